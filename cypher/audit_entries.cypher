// Up to $limit audit entries with id below $before (null: from the newest), newest first,
// each with the id of the undo that reversed it (null if none). A descending range scan
// of the audit_entry_id index; the undo is found through the audit_entry_undoes index.
MATCH (e:AuditEntry)
WHERE e.id < coalesce($before, 9223372036854775807)
WITH e
ORDER BY e.id DESC
LIMIT $limit
OPTIONAL MATCH (u:AuditEntry {undoes: e.id})
RETURN
  e.id AS id,
  e.at AS at,
  e.actor AS actor,
  e.action AS action,
  e.target AS target,
  e.reason AS reason,
  e.before AS before,
  e.after AS after,
  e.undoes AS undoes,
  u.id AS undone_by
ORDER BY id DESC
