// Detaches events from identifiers they no longer carry, and deletes identifier nodes that
// no record and no event carries any more. $rows: [{event_id, kind, value}].
UNWIND $rows AS row
MATCH (:Event {event_id: row.event_id})-[c:CARRIES]->(i:Identifier {kind: row.kind, value: row.value})
DELETE c
WITH DISTINCT i
WHERE NOT EXISTS { (i)<-[:HAS_IDENTIFIER|CARRIES]-() }
DELETE i
