// Records that schema.cypher of this version has been applied.
MERGE (v:SchemaVersion {name: 'idgraph'})
SET v.version = $version
