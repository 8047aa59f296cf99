// Readiness probe: a trivial indexed read that needs the schema to be in place.
OPTIONAL MATCH (v:SchemaVersion {name: 'idgraph'})
RETURN v.version AS version
