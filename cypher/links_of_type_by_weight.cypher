// The review queue by probability, one keyset page at a time: up to $limit links of type
// $type, highest weight first, then by (a, b, matcher), after the position
// ($after_weight, $after_a, $after_b) (weight +Infinity and 0, 0 for the first page),
// leaving out pairs joined by a link of a type in $without (the steward's decisions).
// Links are stored from the lower record id to the higher one, decisions too, so a
// pair's other links are an expand between the two records, not an index scan.
// The link_type_weight index (type, weight) is sought from the position downwards and
// gives its order: sorting by type first (one value here) lets the planner use it, so a
// page reads about $limit links (a partial sort on the ends within one weight) instead
// of every link below the position. The hint keeps that plan when the statistics favour
// the index on type alone (a plan test saw that once, under parallel tests).
MATCH (lower:Record)-[l:LINK]->(higher:Record)
USING INDEX l:LINK(type, weight)
WHERE
  l.type = $type
  AND l.weight <= $after_weight
  AND (
    l.weight < $after_weight
    OR lower.id > $after_a
    OR (lower.id = $after_a AND higher.id > $after_b)
  )
  AND none(t IN [(lower)-[d:LINK]->(higher) | d.type] WHERE t IN $without)
RETURN
  lower.id AS a,
  higher.id AS b,
  l.type AS type,
  l.matcher AS matcher,
  l.weight AS weight,
  l.evidence AS evidence
ORDER BY type DESC, weight DESC, a, b, matcher
LIMIT $limit
