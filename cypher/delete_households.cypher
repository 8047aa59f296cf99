// Deletes households by id (their member nodes go by delete_household_members). $ids:
// [household id].
UNWIND $ids AS id
MATCH (h:Household {id: id})
USING INDEX SEEK h:Household(id)
DELETE h
