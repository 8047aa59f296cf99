// The review queue, one keyset page at a time: up to $limit links of type $type whose
// ends (a, b) come after ($after_a, $after_b) (0, 0 for the first page), ordered by
// (a, b, matcher). Links are stored from the lower record id to the higher one; the
// link_type index finds the links of the type.
MATCH (lower:Record)-[l:LINK]->(higher:Record)
WHERE
  l.type = $type
  AND (lower.id > $after_a OR (lower.id = $after_a AND higher.id > $after_b))
RETURN
  lower.id AS a,
  higher.id AS b,
  l.type AS type,
  l.matcher AS matcher,
  l.weight AS weight,
  l.evidence AS evidence
ORDER BY a, b, matcher
LIMIT $limit
