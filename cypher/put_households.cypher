// Inserts or replaces households and creates their member nodes (a profile's household by
// its id). $rows: [{id, members: [profile id], evidence: JSON text, since}]. The member
// nodes of a rewritten household are deleted first (delete_household_members); a profile
// already in another household breaks the household_member_profile constraint (CREATE,
// not MERGE: one household per profile, as the embedded store's primary key says).
UNWIND $rows AS row
MERGE (h:Household {id: row.id})
SET h.members = row.members,
    h.evidence = row.evidence,
    h.since = row.since
WITH row
UNWIND row.members AS pid
CREATE (:HouseholdMember {profile_id: pid, household_id: row.id})
