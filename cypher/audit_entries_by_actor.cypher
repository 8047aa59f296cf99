// Up to $limit of one actor's audit entries with id below $before (null: from the newest),
// newest first, optionally only of action $action (null: every action), each with the
// id of the undo that reversed it. Seeks the audit_entry_actor index (actor, id).
MATCH (e:AuditEntry)
WHERE
  e.actor = $actor
  AND e.id < coalesce($before, 9223372036854775807)
  AND ($action IS NULL OR e.action = $action)
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
