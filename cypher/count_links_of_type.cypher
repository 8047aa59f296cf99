// How many pairs of records hold a link of type $type and none of a type in $without
// (the steward's decisions): the review queue's length, in one aggregate over every link
// of the type (the link_type index); a pair's other links are an expand between its two
// records. A pair two matchers linked counts once.
MATCH (lower:Record)-[l:LINK]->(higher:Record)
WHERE
  l.type = $type
  AND none(t IN [(lower)-[d:LINK]->(higher) | d.type] WHERE t IN $without)
WITH DISTINCT lower, higher
RETURN count(*) AS count
