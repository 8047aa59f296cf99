// After records or events were deleted: deletes the flags of identifiers no record
// carries any more, and the identifier nodes nothing (no record, no event) carries.
// $rows: [{kind, value}].
UNWIND $rows AS row
MATCH (i:Identifier {kind: row.kind, value: row.value})
WHERE NOT EXISTS { (i)<-[:HAS_IDENTIFIER]-(:Record) }
OPTIONAL MATCH (f:FlaggedIdentifier {kind: row.kind, value: row.value})
DELETE f
WITH DISTINCT i
WHERE NOT EXISTS { (i)<-[:CARRIES]-(:Event) }
DELETE i
