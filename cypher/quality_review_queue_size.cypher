// How many pairs the review queue holds: REVIEW links without a steward's must_link or
// cannot_link between the same records (links run from the lower record id to the
// higher). Every review link through the link_type index, each pair's decisions through
// its records' links.
MATCH (x:Record)-[r:LINK]->(y:Record)
WHERE
  r.type = 'review'
  AND NOT EXISTS {
    MATCH (x)-[d:LINK]->(y)
    WHERE d.type IN ['must_link', 'cannot_link']
  }
RETURN count(r) AS size
