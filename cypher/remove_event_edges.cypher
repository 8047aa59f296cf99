// Detaches events from identifiers they no longer carry, and deletes identifier nodes that
// no record and no event carries any more. $rows: [{event_id, kind, value}].
// Hinted: each row is found from its own key, whatever the statistics say (on a young
// graph a scan from the other end can look free and then runs once per row).
UNWIND $rows AS row
MATCH (e:Event {event_id: row.event_id})-[c:CARRIES]->(i:Identifier {kind: row.kind, value: row.value})
USING INDEX SEEK e:Event(event_id)
DELETE c
WITH DISTINCT i
WHERE NOT EXISTS { (i)<-[:HAS_IDENTIFIER|CARRIES]-() }
DELETE i
