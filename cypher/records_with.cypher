// The records carrying each identifier. $keys: [{kind, value}].
// Hinted: each row is found from its own key, whatever the statistics say (on a young
// graph a scan from the other end can look free and then runs once per row).
UNWIND $keys AS key
MATCH (i:Identifier {kind: key.kind, value: key.value})<-[:HAS_IDENTIFIER]-(r:Record)
USING INDEX SEEK i:Identifier(kind, value)
RETURN key.kind AS kind, key.value AS value, r.id AS record_id
ORDER BY kind, value, record_id
