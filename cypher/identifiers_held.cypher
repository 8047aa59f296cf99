// The identifiers records carry, each once. $ids: record ids.
UNWIND $ids AS id
MATCH (r:Record {id: id})-[:HAS_IDENTIFIER]->(i:Identifier)
USING INDEX SEEK r:Record(id)
RETURN DISTINCT i.kind AS kind, i.value AS value
