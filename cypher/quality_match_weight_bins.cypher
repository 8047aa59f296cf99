// Probabilistic links and undecided review pairs (REVIEW links without a steward's
// must_link or cannot_link between the same records) by floor(match_weight / $width),
// for the quality page. The weight is the evidence's first "match_weight" key, as the
// matcher writes it (evidence is JSON text and Cypher has no JSON parser without APOC);
// a weight that is not a finite number is left out, as the embedded store leaves it.
// Reads every match and review link through the link_type index: a whole-graph read.
MATCH (x:Record)-[l:LINK]->(y:Record)
WHERE
  l.type IN ['match', 'review']
  AND l.evidence CONTAINS '"match_weight":'
  AND (
    l.type = 'match'
    OR NOT EXISTS {
      MATCH (x)-[d:LINK]->(y)
      WHERE d.type IN ['must_link', 'cannot_link']
    }
  )
WITH
  l.type AS type,
  toFloat(trim(split(split(split(l.evidence, '"match_weight":')[1], ',')[0], '}')[0])) AS weight
WHERE weight IS NOT NULL AND weight = weight AND abs(weight) < 1.0e300
WITH type, toInteger(floor(weight / $width)) AS bin
RETURN
  bin,
  sum(CASE WHEN type = 'match' THEN 1 ELSE 0 END) AS links,
  sum(CASE WHEN type = 'review' THEN 1 ELSE 0 END) AS reviews
ORDER BY bin
