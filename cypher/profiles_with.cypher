// The profiles holding a record that carries each identifier. $keys: [{kind, value}].
UNWIND $keys AS key
MATCH (:Identifier {kind: key.kind, value: key.value})<-[:HAS_IDENTIFIER]-(:Record)-[:IN_PROFILE]->(p:Profile)
RETURN DISTINCT key.kind AS kind, key.value AS value, p.id AS profile_id
ORDER BY kind, value, profile_id
