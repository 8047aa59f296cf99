// Deletes stewards' household corrections by key. $ids: [correction key].
UNWIND $ids AS key
MATCH (c:HouseholdCorrection {key: key})
USING INDEX SEEK c:HouseholdCorrection(key)
DELETE c
