// Replaces the target, before and after of logged audit entries (an erasure takes the
// erased records' keys out of earlier entries). $rows: [{id, target, before, after}].
UNWIND $rows AS row
MATCH (a:AuditEntry {id: row.id})
SET a.target = row.target, a.before = row.before, a.after = row.after
