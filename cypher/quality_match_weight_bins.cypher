// Probabilistic links and undecided review pairs (REVIEW links without a steward's
// must_link or cannot_link between the same records) by floor(match_weight / $width),
// for the quality page. The weight is the number after the evidence's first
// "match_weight": key, read from the text as the embedded store reads it (evidence is
// JSON text, and Cypher has no JSON parser without APOC); the matcher writes it first, so
// a substring serves where a split of the whole text would cost twice as much. A weight
// that is not a finite number is left out. Reads every match and review link through the
// link_type index: a whole-graph read (about 0.6 s per 200,000 links, warm).
MATCH (x)-[l:LINK]->(y)
WHERE l.type IN ['match', 'review']
WITH
  x,
  y,
  l.type AS type,
  CASE
    WHEN l.evidence STARTS WITH '{"match_weight":' THEN substring(l.evidence, 16, 32)
    ELSE split(l.evidence, '"match_weight":')[1]
  END AS text
WHERE
  text IS NOT NULL
  AND (
    type = 'match'
    OR NOT EXISTS {
      MATCH (x)-[d:LINK]->(y)
      WHERE d.type IN ['must_link', 'cannot_link']
    }
  )
WITH type, toFloat(split(split(text, ',')[0], '}')[0]) AS weight
WHERE weight = weight AND abs(weight) < 1.0e300
RETURN
  toInteger(floor(weight / $width)) AS bin,
  count(CASE WHEN type = 'match' THEN 1 END) AS links,
  count(CASE WHEN type = 'review' THEN 1 END) AS reviews
ORDER BY bin
