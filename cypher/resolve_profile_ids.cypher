// Each id mapped to the live profile it is, or was merged into: a merged profile's
// REDIRECTS_TO always points at its final survivor, so this is one hop.
UNWIND $ids AS id
MATCH (p:Profile {id: id})
OPTIONAL MATCH (p)-[:REDIRECTS_TO]->(t:Profile)
WITH p, CASE p.status WHEN 'live' THEN p WHEN 'merged' THEN t END AS target
WHERE target IS NOT NULL AND target.status = 'live'
RETURN p.id AS id, target.id AS live_id
