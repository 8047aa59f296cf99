// Detaches records from identifiers they no longer carry, and deletes identifier nodes
// no record and no event carries any more. $rows: [{record_id, kind, value}].
// Hinted: each row is found from its own key, whatever the statistics say (on a young
// graph a scan from the other end can look free and then runs once per row).
UNWIND $rows AS row
MATCH (r:Record {id: row.record_id})-[h:HAS_IDENTIFIER]->(i:Identifier {kind: row.kind, value: row.value})
USING INDEX SEEK r:Record(id)
DELETE h
WITH DISTINCT i
WHERE NOT EXISTS { (i)<-[:HAS_IDENTIFIER|CARRIES]-() }
DELETE i
