// Deletes up to $limit rows of the profile read model and returns how many it deleted; run
// again until it deletes fewer than $limit (a whole-graph statement). A bounded batch per
// statement, not CALL ... IN TRANSACTIONS, which a managed or explicit transaction (a
// unit of work) cannot run.
MATCH (v:ProfileView)
WITH v
LIMIT $limit
DELETE v
RETURN count(v) AS deleted
