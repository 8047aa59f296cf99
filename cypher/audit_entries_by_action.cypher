// Up to $limit audit entries of one action with id below $before (null: from the newest),
// newest first, each with the id of the undo that reversed it. Seeks the
// audit_entry_action index (action, id).
MATCH (e:AuditEntry)
WHERE e.action = $action AND e.id < coalesce($before, 9223372036854775807)
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
