// Deletes up to $limit household and household member nodes and returns how many it
// deleted; run again until it deletes fewer than $limit (a rebuild replaces every
// household). A bounded batch per statement: a unit of work cannot run CALL ... IN
// TRANSACTIONS.
MATCH (n)
WHERE n:Household OR n:HouseholdMember
WITH n
LIMIT $limit
DELETE n
RETURN count(n) AS deleted
