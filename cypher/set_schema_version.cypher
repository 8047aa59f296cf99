// Records that schema.cypher of this version has been applied (after it has, so the
// schema_version_name constraint already guards this MERGE).
MERGE (v:SchemaVersion {name: 'idgraph'})
SET v.version = $version
