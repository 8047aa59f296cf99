-- Source records, their identifier edges and identifier flags.
-- Parameters named ids, keys, refs and names are JSON arrays unpacked by json_each.

-- name: records_by_ref
SELECT r.id, r.source, r.key, r.identifiers, r.attributes, r.raw, r.timestamp, r.profile_id, r.ingested_at, r.updated_at
  FROM json_each(:refs) j
  JOIN records r ON r.source = j.value ->> 0 AND r.key = j.value ->> 1;

-- name: records_by_id
SELECT r.id, r.source, r.key, r.identifiers, r.attributes, r.raw, r.timestamp, r.profile_id, r.ingested_at, r.updated_at
  FROM records r
  WHERE r.id IN (SELECT value FROM json_each(:ids));

-- name: record_attributes
SELECT r.id, a.key, a.value, a.type
  FROM records r
  LEFT JOIN json_each(r.attributes) a ON a.key IN (SELECT value FROM json_each(:names))
  WHERE r.id IN (SELECT value FROM json_each(:ids));

-- name: insert_record
INSERT INTO records (source, key, identifiers, attributes, raw, timestamp, ingested_at, updated_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?)
  RETURNING id;

-- name: update_record
UPDATE records SET identifiers = ?, attributes = ?, raw = ?, timestamp = ?, updated_at = ?
  WHERE id = ?;

-- name: record_ids
SELECT r.source, r.key, r.id
  FROM json_each(:refs) j
  JOIN records r ON r.source = j.value ->> 0 AND r.key = j.value ->> 1;

-- name: record_refs
SELECT id, source, key
  FROM records
  WHERE id IN (SELECT value FROM json_each(:ids));

-- name: records_page
SELECT r.id, r.source, r.key, r.identifiers, r.attributes, r.raw, r.timestamp, r.profile_id, r.ingested_at, r.updated_at
  FROM records r
  WHERE r.id > ?
  ORDER BY r.id
  LIMIT ?;

-- name: record_profiles_page
SELECT source, key, profile_id
  FROM records
  WHERE (source, key) > (?, ?)
  ORDER BY source, key
  LIMIT ?;

-- name: add_identifier_edge
INSERT INTO record_identifiers (kind, value, record_id, original)
  VALUES (?, ?, ?, ?)
  ON CONFLICT
  DO UPDATE SET original = excluded.original;

-- name: remove_identifier_edge
DELETE
  FROM record_identifiers
  WHERE kind = ?
  AND value = ?
  AND record_id = ?;

-- name: identifiers_of
SELECT r.id, r.identifiers
  FROM records r
  WHERE r.id IN (SELECT value FROM json_each(:ids));

-- name: identifier_counts
SELECT j.value ->> 0, j.value ->> 1, (SELECT count(*) FROM record_identifiers ri WHERE ri.kind = j.value ->> 0 AND ri.value = j.value ->> 1)
  FROM json_each(:keys) j;

-- name: records_with
SELECT ri.kind, ri.value, ri.record_id
  FROM json_each(:keys) j
  JOIN record_identifiers ri ON ri.kind = j.value ->> 0 AND ri.value = j.value ->> 1
  ORDER BY ri.kind, ri.value, ri.record_id;

-- name: identifiers_shared
SELECT kind, value, count(*) FROM record_identifiers
  WHERE kind = :kind
  GROUP BY kind, value
  HAVING count(*) > :more_than;

-- name: identifiers_valued
SELECT kind, value, count(*) FROM record_identifiers
  WHERE lower(trim(value)) IN (SELECT value FROM json_each(:values))
  GROUP BY kind, value;

-- name: records_holding_kinds
SELECT DISTINCT record_id FROM record_identifiers
  WHERE kind IN (SELECT value FROM json_each(:kinds))
  ORDER BY record_id;

-- name: put_flag
INSERT INTO identifier_flags (kind, value, reason, record_count)
  VALUES (?, ?, ?, ?)
  ON CONFLICT (kind, value)
  DO UPDATE SET reason = excluded.reason, record_count = excluded.record_count;

-- name: clear_flags
-- One statement for a batch's keys (most of them never had a flag): a DELETE per key
-- was most of what refreshing a bulk load's flags cost.
DELETE
  FROM identifier_flags
  WHERE (kind, value) IN (SELECT value ->> 0, value ->> 1 FROM json_each(:keys));

-- name: flags
SELECT kind, value, reason, record_count
  FROM identifier_flags
  ORDER BY record_count DESC, kind, value
  LIMIT ?;
