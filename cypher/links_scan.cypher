// The links of the given $types, without their evidence, of one page of records by
// ascending record id after the last id of the previous page ($after, $limit records).
// A link is stored from its lower record id to its higher one, so each link is found
// once, from its `a` end; every record of the page is returned (with an empty list when it
// has none of those links) so the caller knows where the page ended.
// The type is tested in the projection, not in a WHERE: a predicate on l.type lets the
// planner seek the review queue's index on LINK.type, every link of the types per page.
MATCH (a:Record)
WHERE a.id > $after
WITH a
ORDER BY a.id
LIMIT $limit
OPTIONAL MATCH (a)-[l:LINK]->(b:Record)
WITH a, collect(
  CASE WHEN l IS NULL OR NOT l.type IN $types THEN null ELSE {
    b: b.id, type: l.type, matcher: l.matcher, weight: l.weight
  } END
) AS links
RETURN a.id AS a, links
ORDER BY a
