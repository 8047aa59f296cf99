-- The match index: one row of comparison fields per record, and its blocking keys.
-- Parameters named ids, keys, refs and names are JSON arrays unpacked by json_each.

-- name: put_match_row
INSERT INTO match_rows (record_id, fields, keys)
  VALUES (?, ?, ?)
  ON CONFLICT (record_id)
  DO UPDATE SET fields = excluded.fields, keys = excluded.keys;

-- name: delete_blocking_keys
DELETE
  FROM blocking_keys
  WHERE record_id IN (SELECT value FROM json_each(:ids));

-- name: add_blocking_key
INSERT OR IGNORE INTO blocking_keys (key, record_id)
  VALUES (?, ?);

-- name: match_rows_with_keys
SELECT m.record_id, m.fields, m.keys
  FROM match_rows m
  WHERE m.record_id IN (SELECT b.record_id FROM json_each(:keys) j JOIN blocking_keys b ON b.key = j.value)
  ORDER BY m.record_id;

-- name: match_rows_of
SELECT m.record_id, m.fields, m.keys
  FROM match_rows m
  WHERE m.record_id IN (SELECT value FROM json_each(:ids))
  ORDER BY m.record_id;

-- name: blocking_key_counts
SELECT j.value, (SELECT count(*) FROM blocking_keys b WHERE b.key = j.value)
  FROM json_each(:keys) j;

-- name: match_rows_page
SELECT m.record_id, m.fields, m.keys
  FROM match_rows m
  WHERE m.record_id > ?
  ORDER BY m.record_id
  LIMIT ?;

-- name: clear_blocking_keys
DELETE
  FROM blocking_keys;

-- name: clear_match_rows
DELETE
  FROM match_rows;
