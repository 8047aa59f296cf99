// One page of every profile id ever issued (live, merged, deleted) with its history, split
// origin and redirect, by ascending id after the last id of the previous page (for
// `idgraph migrate`).
MATCH (p:Profile)
WHERE p.id > $after
WITH p
ORDER BY p.id
LIMIT $limit
OPTIONAL MATCH (p)-[:REDIRECTS_TO]->(t:Profile)
RETURN
  p.id AS id,
  p.status AS status,
  p.merged_from AS merged_from,
  p.created_at AS created_at,
  p.updated_at AS updated_at,
  p.split_from AS split_from,
  t.id AS redirect_to
ORDER BY id
