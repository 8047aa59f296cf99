// Attaches records to the identifiers they carry, creating identifier nodes on first
// sight; the edge keeps the value as received. $rows: [{record_id, kind, value, original}].
UNWIND $rows AS row
MATCH (r:Record {id: row.record_id})
MERGE (i:Identifier {kind: row.kind, value: row.value})
MERGE (r)-[h:HAS_IDENTIFIER]->(i)
SET h.original = row.original
