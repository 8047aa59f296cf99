-- Segment definitions, members and the membership change log.
-- Parameters named ids, keys, refs and names are JSON arrays unpacked by json_each.

-- name: put_segment
INSERT INTO segments (name, definition, created_at, updated_at)
  VALUES (?, ?, ?, ?)
  ON CONFLICT (name)
  DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at;

-- name: all_segments
SELECT name, definition, created_at, updated_at
  FROM segments
  ORDER BY name;

-- name: segments_named
SELECT name, definition, created_at, updated_at
  FROM segments
  WHERE name IN (SELECT value FROM json_each(:names))
  ORDER BY name;

-- name: delete_segment_changes
DELETE
  FROM segment_changes
  WHERE segment = :name;

-- name: delete_segment_members
DELETE
  FROM segment_members
  WHERE segment = :name;

-- name: delete_segment
DELETE
  FROM segments
  WHERE name = :name;

-- name: segment_members
SELECT profile_id
  FROM segment_members
  WHERE segment = ?
  AND profile_id > ?
  ORDER BY profile_id
  LIMIT ?;

-- name: segment_sizes
SELECT s.name, (SELECT count(*) FROM segment_members m WHERE m.segment = s.name)
  FROM segments s
  WHERE :names IS NULL OR s.name IN (SELECT value FROM json_each(:names));

-- name: memberships_of
SELECT profile_id, segment
  FROM segment_members
  WHERE profile_id IN (SELECT value FROM json_each(:ids))
  ORDER BY profile_id, segment;

-- name: add_member
INSERT OR IGNORE INTO segment_members (segment, profile_id)
  VALUES (?, ?);

-- name: remove_member
DELETE
  FROM segment_members
  WHERE segment = ?
  AND profile_id = ?;

-- name: log_change
INSERT INTO segment_changes (segment, profile_id, kind, at, merged_into)
  VALUES (?, ?, ?, ?, ?);

-- name: segment_changes
SELECT seq, segment, profile_id, kind, at, merged_into
  FROM segment_changes
  WHERE segment = ?
  AND seq > ?
  ORDER BY seq
  LIMIT ?;

-- name: last_change_seq
SELECT coalesce(max(seq), 0)
  FROM segment_changes;
