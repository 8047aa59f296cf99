// Record ids by (source, key). $refs: [{source, key}].
UNWIND $refs AS ref
MATCH (r:Record {source: ref.source, key: ref.key})
RETURN r.source AS source, r.key AS key, r.id AS id
