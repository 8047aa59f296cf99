// Deletes the member nodes of households by id (before the households are rewritten or
// deleted). $ids: [household id].
UNWIND $ids AS id
MATCH (m:HouseholdMember {household_id: id})
USING INDEX SEEK m:HouseholdMember(household_id)
DELETE m
