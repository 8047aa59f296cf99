// The household of each profile that has one. $ids: [profile id].
UNWIND $ids AS pid
MATCH (m:HouseholdMember {profile_id: pid})
USING INDEX SEEK m:HouseholdMember(profile_id)
MATCH (h:Household {id: m.household_id})
USING INDEX SEEK h:Household(id)
RETURN pid AS profile_id, h.id AS id, h.members AS members, h.evidence AS evidence, h.since AS since
