// Adds entries to the suppression list; a hash already listed keeps its entry.
// $rows: [{hash, kind, at, audit_id}].
UNWIND $rows AS row
MERGE (s:Suppression {hash: row.hash})
ON CREATE SET s.kind = row.kind, s.at = row.at, s.audit_id = row.audit_id
