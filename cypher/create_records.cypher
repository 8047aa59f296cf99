// Inserts new records. $rows: [{id, source, key, identifiers, attributes, raw, timestamp}];
// identifiers, attributes and raw are JSON text, timestamp ISO-8601 text or null.
UNWIND $rows AS row
CREATE (:Record {
  id: row.id,
  source: row.source,
  key: row.key,
  identifiers: row.identifiers,
  attributes: row.attributes,
  raw: row.raw,
  timestamp: row.timestamp,
  ingested_at: $now,
  updated_at: $now
})
