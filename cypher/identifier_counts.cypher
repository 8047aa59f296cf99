// How many records carry each identifier; unknown identifiers count 0. $keys: [{kind, value}].
// Hinted: each row is found from its own key, whatever the statistics say (on a young
// graph a scan from the other end can look free and then runs once per row).
UNWIND $keys AS key
OPTIONAL MATCH (i:Identifier {kind: key.kind, value: key.value})<-[h:HAS_IDENTIFIER]-(:Record)
USING INDEX SEEK i:Identifier(kind, value)
RETURN key.kind AS kind, key.value AS value, count(h) AS records
