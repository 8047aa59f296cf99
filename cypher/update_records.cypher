// Replaces the content of changed records, keeping their id, profile and ingest time.
UNWIND $rows AS row
MATCH (r:Record {id: row.id})
SET
  r.identifiers = row.identifiers,
  r.attributes = row.attributes,
  r.raw = row.raw,
  r.timestamp = row.timestamp,
  r.updated_at = $now
