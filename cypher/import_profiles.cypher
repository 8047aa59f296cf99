// Writes profiles copied from another store exactly as they were: status, history, split
// origin (null removes it), times and redirect. A redirect target that a later batch
// brings is created bare by MERGE and gets its properties when its own row arrives.
// $rows: [{id, status, merged_from, split_from, created_at, updated_at, redirect_to}].
UNWIND $rows AS row
MERGE (p:Profile {id: row.id})
SET
  p.status = row.status,
  p.merged_from = row.merged_from,
  p.split_from = row.split_from,
  p.created_at = row.created_at,
  p.updated_at = row.updated_at
WITH p, row
OPTIONAL MATCH (p)-[old:REDIRECTS_TO]->(:Profile)
DELETE old
WITH DISTINCT p, row
WHERE row.redirect_to IS NOT NULL
MERGE (t:Profile {id: row.redirect_to})
CREATE (p)-[:REDIRECTS_TO]->(t)
