// The current state of the records an upsert batch names, to tell new, changed and
// identical records apart. $refs: [{source, key}].
UNWIND $refs AS ref
MATCH (r:Record {source: ref.source, key: ref.key})
RETURN
  r.id AS id,
  r.source AS source,
  r.key AS key,
  r.identifiers AS identifiers,
  r.attributes AS attributes,
  r.raw AS raw,
  r.timestamp AS timestamp
