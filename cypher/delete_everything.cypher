// Deletes the whole graph in batches of 10,000 nodes (constraints and indexes stay):
// records, identifiers, profiles, events, segments with their members and change log, the
// profile change log, the audit log and everything else, except the sequences, so that
// record ids, change seqs and audit entry ids are never reused.
// Only for tests and for emptying a target before `idgraph migrate`; never on a live path.
// Runs in an implicit (auto-commit) transaction, as CALL ... IN TRANSACTIONS requires.
MATCH (n)
WHERE NOT n:Sequence
CALL (n) {
  DETACH DELETE n
} IN TRANSACTIONS OF 10000 ROWS
