-- Events and the identifiers they carry. A profile's identifiers are those of its
-- records that are not flagged as junk.
-- Parameters named ids, keys, refs and names are JSON arrays unpacked by json_each.

-- name: events_by_id
SELECT event_id, body
  FROM events
  WHERE event_id IN (SELECT value FROM json_each(:ids));

-- name: put_event
INSERT INTO events (event_id, type, channel, ts, body, received_at)
  VALUES (?, ?, ?, ?, ?, ?)
  ON CONFLICT (event_id)
  DO UPDATE SET type = excluded.type, channel = excluded.channel, ts = excluded.ts, body = excluded.body, received_at = excluded.received_at;

-- name: delete_event_edges
DELETE
  FROM event_identifiers
  WHERE event_id IN (SELECT value FROM json_each(:ids));

-- name: add_event_edge
INSERT OR IGNORE INTO event_identifiers (kind, value, event_id)
  VALUES (?, ?, ?);

-- The two journey orders differ only in the keyset comparison and the sort direction.
-- name: journey_newest_first
WITH held AS (SELECT DISTINCT ri.kind, ri.value FROM records r JOIN record_identifiers ri ON ri.record_id = r.id WHERE r.profile_id = :profile AND NOT EXISTS (SELECT 1 FROM identifier_flags f WHERE f.kind = ri.kind AND f.value = ri.value)),
  found AS (SELECT DISTINCT ei.event_id FROM held JOIN event_identifiers ei ON ei.kind = held.kind AND ei.value = held.value)
SELECT e.event_id, e.body
  FROM found
  JOIN events e ON e.event_id = found.event_id
  WHERE (:types IS NULL OR e.type IN (SELECT value FROM json_each(:types)))
  AND (:channels IS NULL OR e.channel IN (SELECT value FROM json_each(:channels)))
  AND (:since IS NULL OR e.ts >= :since)
  AND (:until IS NULL OR e.ts < :until)
  AND (:after_ts IS NULL OR (e.ts, e.event_id) < (:after_ts, :after_id))
  ORDER BY e.ts DESC, e.event_id DESC
  LIMIT :limit;

-- name: journey_oldest_first
WITH held AS (SELECT DISTINCT ri.kind, ri.value FROM records r JOIN record_identifiers ri ON ri.record_id = r.id WHERE r.profile_id = :profile AND NOT EXISTS (SELECT 1 FROM identifier_flags f WHERE f.kind = ri.kind AND f.value = ri.value)),
  found AS (SELECT DISTINCT ei.event_id FROM held JOIN event_identifiers ei ON ei.kind = held.kind AND ei.value = held.value)
SELECT e.event_id, e.body
  FROM found
  JOIN events e ON e.event_id = found.event_id
  WHERE (:types IS NULL OR e.type IN (SELECT value FROM json_each(:types)))
  AND (:channels IS NULL OR e.channel IN (SELECT value FROM json_each(:channels)))
  AND (:since IS NULL OR e.ts >= :since)
  AND (:until IS NULL OR e.ts < :until)
  AND (:after_ts IS NULL OR (e.ts, e.event_id) > (:after_ts, :after_id))
  ORDER BY e.ts ASC, e.event_id ASC
  LIMIT :limit;

-- Batched journeys: each profile's page of the journey above, numbered per profile so that
-- the limit holds for each of them.
-- name: journeys_newest_first
WITH held AS (SELECT DISTINCT r.profile_id, ri.kind, ri.value FROM records r JOIN record_identifiers ri ON ri.record_id = r.id WHERE r.profile_id IN (SELECT value FROM json_each(:ids)) AND NOT EXISTS (SELECT 1 FROM identifier_flags f WHERE f.kind = ri.kind AND f.value = ri.value)),
  found AS (SELECT DISTINCT held.profile_id, ei.event_id FROM held JOIN event_identifiers ei ON ei.kind = held.kind AND ei.value = held.value),
  paged AS (SELECT found.profile_id, e.ts, e.event_id, e.body, row_number() OVER (PARTITION BY found.profile_id ORDER BY e.ts DESC, e.event_id DESC) AS n
    FROM found
    JOIN events e ON e.event_id = found.event_id
    WHERE (:types IS NULL OR e.type IN (SELECT value FROM json_each(:types)))
    AND (:channels IS NULL OR e.channel IN (SELECT value FROM json_each(:channels)))
    AND (:since IS NULL OR e.ts >= :since)
    AND (:until IS NULL OR e.ts < :until)
    AND (:after_ts IS NULL OR (e.ts, e.event_id) < (:after_ts, :after_id)))
SELECT profile_id, event_id, body
  FROM paged
  WHERE n <= :limit
  ORDER BY profile_id, n;

-- name: journeys_oldest_first
WITH held AS (SELECT DISTINCT r.profile_id, ri.kind, ri.value FROM records r JOIN record_identifiers ri ON ri.record_id = r.id WHERE r.profile_id IN (SELECT value FROM json_each(:ids)) AND NOT EXISTS (SELECT 1 FROM identifier_flags f WHERE f.kind = ri.kind AND f.value = ri.value)),
  found AS (SELECT DISTINCT held.profile_id, ei.event_id FROM held JOIN event_identifiers ei ON ei.kind = held.kind AND ei.value = held.value),
  paged AS (SELECT found.profile_id, e.ts, e.event_id, e.body, row_number() OVER (PARTITION BY found.profile_id ORDER BY e.ts ASC, e.event_id ASC) AS n
    FROM found
    JOIN events e ON e.event_id = found.event_id
    WHERE (:types IS NULL OR e.type IN (SELECT value FROM json_each(:types)))
    AND (:channels IS NULL OR e.channel IN (SELECT value FROM json_each(:channels)))
    AND (:since IS NULL OR e.ts >= :since)
    AND (:until IS NULL OR e.ts < :until)
    AND (:after_ts IS NULL OR (e.ts, e.event_id) > (:after_ts, :after_id)))
SELECT profile_id, event_id, body
  FROM paged
  WHERE n <= :limit
  ORDER BY profile_id, n;

-- Distinct identifiers per profile first, then distinct events: an e-mail held by four of
-- a profile's records would otherwise read (and de-duplicate) each of its events four times.
-- name: events_of_profiles
WITH held AS (SELECT DISTINCT r.profile_id, ri.kind, ri.value FROM records r JOIN record_identifiers ri ON ri.record_id = r.id WHERE r.profile_id IN (SELECT value FROM json_each(:ids)) AND NOT EXISTS (SELECT 1 FROM identifier_flags f WHERE f.kind = ri.kind AND f.value = ri.value)),
  found AS (SELECT DISTINCT held.profile_id, ei.event_id FROM held JOIN event_identifiers ei ON ei.kind = held.kind AND ei.value = held.value)
SELECT found.profile_id, e.ts, e.event_id, e.body
  FROM found
  JOIN events e ON e.event_id = found.event_id
  WHERE :since IS NULL OR e.ts >= :since
  ORDER BY found.profile_id, e.ts, e.event_id;

-- name: profiles_of_events
SELECT DISTINCT ei.event_id, r.profile_id
  FROM json_each(:ids) j
  JOIN event_identifiers ei ON ei.event_id = j.value
  JOIN record_identifiers ri ON ri.kind = ei.kind AND ri.value = ei.value
  JOIN records r ON r.id = ri.record_id
  WHERE r.profile_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM identifier_flags f WHERE f.kind = ri.kind AND f.value = ri.value)
  ORDER BY ei.event_id, r.profile_id;

-- name: event_count
SELECT count(*)
  FROM events;
