// Writes the outcome of a batch of merges: status, history, time, and the redirect of
// each profile (retired ones and those that followed them).
// $rows: [{id, status, merged_from, redirect_to, touch}].
UNWIND $rows AS row
MATCH (p:Profile {id: row.id})
SET
  p.status = row.status,
  p.merged_from = row.merged_from,
  p.updated_at = CASE WHEN row.touch THEN $now ELSE p.updated_at END
WITH p, row
OPTIONAL MATCH (p)-[old:REDIRECTS_TO]->(:Profile)
DELETE old
WITH DISTINCT p, row
WHERE row.redirect_to IS NOT NULL
MATCH (t:Profile {id: row.redirect_to})
CREATE (p)-[:REDIRECTS_TO]->(t)
