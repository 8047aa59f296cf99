-- The audit log of stewardship actions.
-- Parameters named ids, keys, refs and names are JSON arrays unpacked by json_each.

-- name: append_audit
INSERT INTO audit_log (at, actor, action, target, reason, before, after, undoes)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?)
  RETURNING id;

-- name: audit_entries
SELECT a.id, a.at, a.actor, a.action, a.target, a.reason, a.before, a.after, a.undoes, (SELECT u.id FROM audit_log u WHERE u.undoes = a.id)
  FROM audit_log a
  WHERE a.id < :before
  AND (:actor IS NULL OR a.actor = :actor)
  AND (:action IS NULL OR a.action = :action)
  ORDER BY a.id DESC
  LIMIT :limit;

-- name: audit_by_id
SELECT a.id, a.at, a.actor, a.action, a.target, a.reason, a.before, a.after, a.undoes, (SELECT u.id FROM audit_log u WHERE u.undoes = a.id)
  FROM audit_log a
  WHERE a.id IN (SELECT value FROM json_each(:ids));

-- name: redact_audit
UPDATE audit_log SET target = ?, before = ?, after = ?
  WHERE id = ?;
