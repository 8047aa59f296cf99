// The schema version the graph was migrated to (null on an empty database). Also the
// readiness probe: a trivial indexed read.
OPTIONAL MATCH (v:SchemaVersion {name: 'idgraph'})
RETURN v.version AS version
