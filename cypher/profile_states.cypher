// What a batch of merges needs to know of the profiles it touches: status, history,
// redirect, and the ids that redirect to each one (and must follow it).
UNWIND $ids AS id
MATCH (p:Profile {id: id})
OPTIONAL MATCH (p)-[:REDIRECTS_TO]->(t:Profile)
RETURN
  p.id AS id,
  p.status AS status,
  p.merged_from AS merged_from,
  t.id AS redirect_to,
  [(f:Profile)-[:REDIRECTS_TO]->(p) | f.id] AS followers
