-- Households (HouseholdPort). Parameters named ids are JSON arrays unpacked by json_each.
-- Deleting a household deletes its member rows (ON DELETE CASCADE).

-- name: clear_households
DELETE
  FROM households;

-- name: delete_households
DELETE
  FROM households
  WHERE id IN (SELECT value FROM json_each(:ids));

-- name: put_households
INSERT INTO households (id, members, evidence, since)
  VALUES (:id, :members, :evidence, :since)
  ON CONFLICT (id) DO UPDATE SET
    members = excluded.members,
    evidence = excluded.evidence,
    since = excluded.since;

-- name: clear_members_of
-- The member rows of households about to be rewritten (their members may change).
DELETE
  FROM household_members
  WHERE household_id IN (SELECT value FROM json_each(:ids));

-- name: put_members
INSERT INTO household_members (profile_id, household_id)
  VALUES (:profile_id, :household_id);

-- name: households_of_profiles
SELECT m.profile_id, h.id, h.members, h.evidence, h.since
  FROM household_members AS m
  JOIN households AS h ON h.id = m.household_id
  WHERE m.profile_id IN (SELECT value FROM json_each(:ids));

-- name: get_households
SELECT id, members, evidence, since
  FROM households
  WHERE id IN (SELECT value FROM json_each(:ids));

-- name: households_page
SELECT id, members, evidence, since
  FROM households
  WHERE id > ?
  ORDER BY id
  LIMIT ?;

-- name: count_households
SELECT (SELECT count(*) FROM households), (SELECT count(*) FROM household_members);

-- name: put_corrections
INSERT INTO household_corrections (key, kind, profiles, actor, reason, at)
  VALUES (:key, :kind, :profiles, :actor, :reason, :at)
  ON CONFLICT (key) DO UPDATE SET
    kind = excluded.kind,
    profiles = excluded.profiles,
    actor = excluded.actor,
    reason = excluded.reason,
    at = excluded.at;

-- name: delete_corrections
DELETE
  FROM household_corrections
  WHERE key IN (SELECT value FROM json_each(:ids));

-- name: corrections
SELECT kind, profiles, actor, reason, at
  FROM household_corrections
  ORDER BY key;
