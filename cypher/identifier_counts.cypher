// How many records carry each identifier; unknown identifiers count 0. $keys: [{kind, value}].
UNWIND $keys AS key
OPTIONAL MATCH (:Identifier {kind: key.kind, value: key.value})<-[h:HAS_IDENTIFIER]-(:Record)
RETURN key.kind AS kind, key.value AS value, count(h) AS records
