// Replaces the match-index entries of records: the values the probabilistic matcher
// compares (JSON text) and the blocking keys, as (:Record)-[:HAS_BLOCKING_KEY]->(:BlockingKey).
// Keys a record no longer has are unlinked. $rows: [{record_id, fields, keys}].
UNWIND $rows AS row
MATCH (r:Record {id: row.record_id})
SET r.match_fields = row.fields, r.blocking_keys = row.keys
WITH r, row
OPTIONAL MATCH (r)-[old:HAS_BLOCKING_KEY]->(:BlockingKey)
DELETE old
WITH DISTINCT r, row
FOREACH (key IN row.keys |
  MERGE (k:BlockingKey {key: key})
  MERGE (r)-[:HAS_BLOCKING_KEY]->(k)
)
