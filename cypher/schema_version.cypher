// The schema version the graph was last migrated to (created on first start-up).
MERGE (v:SchemaVersion {name: 'idgraph'})
  ON CREATE SET v.version = 0
RETURN v.version AS version
