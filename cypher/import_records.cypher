// Inserts records copied from another store, with the ids this store reserved for them and
// their own ingest and update times. $rows: [{id, source, key, identifiers, attributes, raw,
// timestamp, ingested_at, updated_at}]; content as in create_records.
UNWIND $rows AS row
CREATE (:Record {
  id: row.id,
  source: row.source,
  key: row.key,
  identifiers: row.identifiers,
  attributes: row.attributes,
  raw: row.raw,
  timestamp: row.timestamp,
  ingested_at: row.ingested_at,
  updated_at: row.updated_at
})
