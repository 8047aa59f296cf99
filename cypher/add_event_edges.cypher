// Attaches events to the identifiers they carry: the same Identifier nodes records carry,
// created on first sight, so an anonymous event joins a profile as soon as one of its
// records holds the identifier. $rows: [{event_id, kind, value}].
UNWIND $rows AS row
MATCH (e:Event {event_id: row.event_id})
MERGE (i:Identifier {kind: row.kind, value: row.value})
MERGE (e)-[:CARRIES]->(i)
