// Records carrying an identifier of one of $kinds: what a changed kind rule re-resolves.
MATCH (i:Identifier)<-[:HAS_IDENTIFIER]-(r:Record)
WHERE i.kind IN $kinds AND i.value IS NOT NULL
RETURN DISTINCT r.id AS id
