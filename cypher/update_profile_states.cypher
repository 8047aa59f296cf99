// Writes the outcome of a batch of merges: status, history, time, and the redirect of
// each profile (retired ones and those that followed them).
// $rows: [{id, status, merged_from, redirect_to, touch}]; a profile that only follows a
// retired one has no status or merged_from in its row and keeps its own.
UNWIND $rows AS row
MATCH (p:Profile {id: row.id})
SET
  p.status = coalesce(row.status, p.status),
  p.merged_from = coalesce(row.merged_from, p.merged_from),
  p.updated_at = CASE WHEN row.touch THEN $now ELSE p.updated_at END
WITH p, row
OPTIONAL MATCH (p)-[old:REDIRECTS_TO]->(:Profile)
DELETE old
WITH DISTINCT p, row
WHERE row.redirect_to IS NOT NULL
MATCH (t:Profile {id: row.redirect_to})
CREATE (p)-[:REDIRECTS_TO]->(t)
