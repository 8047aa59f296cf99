-- Erasure and retention: deleting records and events for good, and the suppression list.
-- Parameters named ids and hashes are JSON arrays unpacked by json_each. The writer runs
-- with PRAGMA secure_delete, so what these statements delete is overwritten with zeros.

-- name: identifiers_held
SELECT DISTINCT kind, value
  FROM record_identifiers
  WHERE record_id IN (SELECT value FROM json_each(:ids))
  ORDER BY kind, value;

-- name: delete_links
DELETE
  FROM links
  WHERE a IN (SELECT value FROM json_each(:ids))
  OR b IN (SELECT value FROM json_each(:ids));

-- name: delete_blocking_keys
DELETE
  FROM blocking_keys
  WHERE record_id IN (SELECT value FROM json_each(:ids));

-- name: delete_match_rows
DELETE
  FROM match_rows
  WHERE record_id IN (SELECT value FROM json_each(:ids));

-- name: delete_identifier_edges
DELETE
  FROM record_identifiers
  WHERE record_id IN (SELECT value FROM json_each(:ids));

-- name: delete_records
DELETE
  FROM records
  WHERE id IN (SELECT value FROM json_each(:ids));

-- Flags of identifiers no record carries any more. :keys is a JSON array of [kind, value].
-- name: delete_orphan_flags
DELETE
  FROM identifier_flags
  WHERE (kind, value) IN (SELECT j.value ->> 0, j.value ->> 1 FROM json_each(:keys) j)
  AND NOT EXISTS (SELECT 1 FROM record_identifiers ri WHERE ri.kind = identifier_flags.kind AND ri.value = identifier_flags.value);

-- name: delete_event_edges
DELETE
  FROM event_identifiers
  WHERE event_id IN (SELECT value FROM json_each(:ids));

-- name: delete_events
DELETE
  FROM events
  WHERE event_id IN (SELECT value FROM json_each(:ids));

-- A record's time is its own timestamp, else when it was last changed here; julianday()
-- reads both with their offsets, so the comparison is of instants.
-- name: expired_records
SELECT id
  FROM records
  WHERE source = :source
  AND julianday(coalesce(timestamp, updated_at)) < julianday(:before)
  ORDER BY id
  LIMIT :limit;

-- ts is fixed-width UTC text, whose order is time order.
-- name: expired_events
SELECT event_id
  FROM events
  WHERE ts < :before
  ORDER BY ts, event_id
  LIMIT :limit;

-- name: suppress
INSERT OR IGNORE INTO suppressions (hash, kind, at, audit_id)
  VALUES (?, ?, ?, ?);

-- name: suppressed
SELECT hash
  FROM suppressions
  WHERE hash IN (SELECT value FROM json_each(:hashes));

-- name: unsuppress
DELETE
  FROM suppressions
  WHERE hash IN (SELECT value FROM json_each(:hashes));

-- name: suppressions_page
SELECT hash, kind, at, audit_id
  FROM suppressions
  WHERE hash > :after
  ORDER BY hash
  LIMIT :limit;

