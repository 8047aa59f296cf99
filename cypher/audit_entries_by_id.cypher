// Audit entries by id, each with the id of the undo that reversed it (null if none);
// unknown ids are absent. $ids: [entry id].
UNWIND $ids AS id
MATCH (e:AuditEntry {id: id})
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
ORDER BY id
