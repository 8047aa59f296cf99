-- Profiles, their records and the profile change log.
-- Parameters named ids, keys, refs and names are JSON arrays unpacked by json_each.

-- name: profile_ids_of
SELECT id, profile_id
  FROM records
  WHERE id IN (SELECT value FROM json_each(:ids))
  AND profile_id IS NOT NULL;

-- name: records_of_profiles
SELECT profile_id, id
  FROM records
  WHERE profile_id IN (SELECT value FROM json_each(:ids))
  ORDER BY profile_id, id;

-- name: get_profiles
SELECT id, created_at, updated_at, merged_from, split_from
  FROM profiles
  WHERE id IN (SELECT value FROM json_each(:ids))
  AND status = 'live';

-- name: profile_status
SELECT id, status, redirect_to
  FROM profiles
  WHERE id IN (SELECT value FROM json_each(:ids));

-- name: profiles_with
SELECT DISTINCT ri.kind, ri.value, r.profile_id
  FROM json_each(:keys) j
  JOIN record_identifiers ri ON ri.kind = j.value ->> 0 AND ri.value = j.value ->> 1
  JOIN records r ON r.id = ri.record_id
  WHERE r.profile_id IS NOT NULL
  ORDER BY ri.kind, ri.value, r.profile_id;

-- name: create_profile
INSERT INTO profiles (id, status, created_at, updated_at, split_from)
  VALUES (?, 'live', ?, ?, ?);

-- name: assign_record
UPDATE records SET profile_id = ?
  WHERE id = ?;

-- name: merged_from
SELECT merged_from
  FROM profiles
  WHERE id = ?;

-- name: retire_profile
UPDATE profiles SET status = 'merged', redirect_to = :survivor, merged_from = '[]', updated_at = :now
  WHERE id = :retired;

-- name: follow_redirects
UPDATE profiles SET redirect_to = :survivor
  WHERE redirect_to = :retired;

-- name: set_merged_from
UPDATE profiles SET merged_from = ?, updated_at = ?
  WHERE id = ?;

-- name: delete_profile
UPDATE profiles SET status = 'deleted', redirect_to = NULL, updated_at = ?
  WHERE id = ?;

-- name: touch_profile
UPDATE profiles SET updated_at = ?
  WHERE id = ?
  AND status = 'live';

-- name: log_profile_change
INSERT INTO profile_changes (kind, profile_id, at, related)
  VALUES (?, ?, ?, ?);

-- name: profile_change_log
SELECT seq, kind, profile_id, at, related
  FROM profile_changes
  WHERE seq > ?
  ORDER BY seq
  LIMIT ?;

-- name: profile_ids_page
SELECT id
  FROM profiles
  WHERE status = 'live'
  AND id > ?
  ORDER BY id
  LIMIT ?;
