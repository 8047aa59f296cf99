// Which of $ids (the entries undo entries name) the audit log does not hold: an undo
// must name a logged entry.
UNWIND $ids AS id
OPTIONAL MATCH (e:AuditEntry {id: id})
WITH id, e
WHERE e IS NULL
RETURN id
ORDER BY id
