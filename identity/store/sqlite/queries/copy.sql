-- Copying a whole store (idgraph migrate): keyset pages out, imports in, emptying.
-- Parameters named ids, keys, refs and names are JSON arrays unpacked by json_each.

-- name: profiles_page
SELECT id, status, redirect_to, merged_from, created_at, updated_at, split_from
  FROM profiles
  WHERE id > ?
  ORDER BY id
  LIMIT ?;

-- name: flags_page
SELECT kind, value, reason, record_count
  FROM identifier_flags
  WHERE (kind, value) > (?, ?)
  ORDER BY kind, value
  LIMIT ?;

-- name: links_page
SELECT a, b, type, matcher, weight, evidence
  FROM links
  WHERE (a, b, type, matcher) > (?, ?, ?, ?)
  ORDER BY a, b, type, matcher
  LIMIT ?;

-- name: events_page
SELECT event_id, body
  FROM events
  WHERE event_id > ?
  ORDER BY event_id
  LIMIT ?;

-- name: segment_changes_page
SELECT seq, segment, profile_id, kind, at, merged_into
  FROM segment_changes
  WHERE seq > ?
  ORDER BY seq
  LIMIT ?;

-- name: missing_profiles
SELECT j.value
  FROM json_each(:ids) j
  WHERE NOT EXISTS (SELECT 1 FROM profiles p WHERE p.id = j.value)
  ORDER BY j.value;

-- name: import_record
INSERT INTO records (source, key, identifiers, attributes, raw, timestamp, profile_id, ingested_at, updated_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
  RETURNING id;

-- name: import_profile
INSERT INTO profiles (id, status, redirect_to, merged_from, created_at, updated_at, split_from)
  VALUES (?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (id)
  DO UPDATE SET status = excluded.status, split_from = excluded.split_from, redirect_to = excluded.redirect_to, merged_from = excluded.merged_from, created_at = excluded.created_at, updated_at = excluded.updated_at;

-- name: import_profile_change
INSERT INTO profile_changes (seq, kind, profile_id, at, related)
  VALUES (?, ?, ?, ?, ?);

-- name: import_audit
INSERT INTO audit_log (id, at, actor, action, target, reason, before, after, undoes)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: missing_segments
SELECT j.value
  FROM json_each(:names) j
  WHERE NOT EXISTS (SELECT 1 FROM segments s WHERE s.name = j.value)
  ORDER BY j.value;

-- name: import_segment_change
INSERT INTO segment_changes (seq, segment, profile_id, kind, at, merged_into)
  VALUES (?, ?, ?, ?, ?, ?);

-- name: tables
SELECT name
  FROM sqlite_master
  WHERE type = 'table'
  AND name NOT LIKE 'sqlite_%';

-- name: defer_foreign_keys
PRAGMA defer_foreign_keys = ON;

-- The table name comes from the tables statement: an identifier cannot be a
-- parameter, so it is filled in ({table}).

-- name: delete_all_rows
DELETE
  FROM "{table}";
