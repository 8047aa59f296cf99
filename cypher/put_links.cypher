// Inserts links, replacing one with the same (a, b, type, matcher).
// $rows: [{a, b, type, matcher, weight, evidence}] with a < b; evidence is JSON text.
UNWIND $rows AS row
MATCH (a:Record {id: row.a})
MATCH (b:Record {id: row.b})
MERGE (a)-[l:LINK {type: row.type, matcher: row.matcher}]->(b)
SET l.weight = row.weight, l.evidence = row.evidence
