// Detaches records from identifiers they no longer carry, and deletes identifier nodes
// no record and no event carries any more. $rows: [{record_id, kind, value}].
UNWIND $rows AS row
MATCH (:Record {id: row.record_id})-[h:HAS_IDENTIFIER]->(i:Identifier {kind: row.kind, value: row.value})
DELETE h
WITH DISTINCT i
WHERE NOT EXISTS { (i)<-[:HAS_IDENTIFIER|CARRIES]-() }
DELETE i
