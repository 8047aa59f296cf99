// The records carrying each identifier. $keys: [{kind, value}].
UNWIND $keys AS key
MATCH (:Identifier {kind: key.kind, value: key.value})<-[:HAS_IDENTIFIER]-(r:Record)
RETURN key.kind AS kind, key.value AS value, r.id AS record_id
ORDER BY kind, value, record_id
