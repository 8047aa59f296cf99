// The links of the given $types, without their evidence, of one page of records by
// ascending record id after the last id of the previous page ($after, $limit records).
// A link is stored from its lower record id to its higher one, so each link is found
// once, from its `a` end; every record of the page is returned (with an empty list when it
// has none of those links) so the caller knows where the page ended.
MATCH (a:Record)
WHERE a.id > $after
WITH a
ORDER BY a.id
LIMIT $limit
OPTIONAL MATCH (a)-[l:LINK]->(b:Record)
WHERE l.type IN $types
WITH a, collect(
  CASE WHEN l IS NULL THEN null ELSE {
    b: b.id, type: l.type, matcher: l.matcher, weight: l.weight
  } END
) AS links
RETURN a.id AS a, links
ORDER BY a
