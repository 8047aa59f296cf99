// Inserts links, replacing one with the same (a, b, type, matcher).
// $rows: [{a, b, type, matcher, weight, evidence}] with a < b, at most one row per
// (a, b, type, matcher); evidence is JSON text.
// The existing link is found by expanding between the two records: a MERGE (or a WHERE on
// l.type) lets the planner seek the review queue's index on LINK.type instead, which on a
// young graph (few links, cheap in its statistics) reads every link of the type per row.
UNWIND $rows AS row
MATCH (a:Record {id: row.a})
USING INDEX SEEK a:Record(id)
MATCH (b:Record {id: row.b})
USING INDEX SEEK b:Record(id)
WITH a, b, row, [
  l IN [(a)-[l:LINK]->(b) | l]
  WHERE l.type = row.type AND l.matcher = row.matcher
] AS existing
FOREACH (l IN existing | SET l.weight = row.weight, l.evidence = row.evidence)
FOREACH (_ IN CASE WHEN existing = [] THEN [1] ELSE [] END |
  CREATE (a)-[:LINK {
    type: row.type,
    matcher: row.matcher,
    weight: row.weight,
    evidence: row.evidence
  }]->(b)
)
