// Inserts or replaces households and their member nodes (a profile's household by its id).
// $rows: [{id, members: [profile id], evidence: JSON text, since}]. The member nodes of a
// rewritten household are deleted first (delete_household_members), so none is left over.
UNWIND $rows AS row
MERGE (h:Household {id: row.id})
SET h.members = row.members,
    h.evidence = row.evidence,
    h.since = row.since
WITH row
UNWIND row.members AS pid
MERGE (m:HouseholdMember {profile_id: pid})
SET m.household_id = row.id
