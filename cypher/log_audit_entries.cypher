// Appends entries to the audit log; an existing id violates audit_entry_id, and a second
// undo of the same entry violates audit_entry_undoes, failing the batch.
// $rows: [{id, at, actor, action, target, reason, before, after, undoes}]: at ISO-8601
// text, before and after JSON text, target, reason and undoes null when absent.
UNWIND $rows AS row
CREATE (:AuditEntry {
  id: row.id,
  at: row.at,
  actor: row.actor,
  action: row.action,
  target: row.target,
  reason: row.reason,
  before: row.before,
  after: row.after,
  undoes: row.undoes
})
