// The match-index entries of the records holding any of the blocking keys, each once,
// by record id: a new record's candidates. $keys: [string].
UNWIND $keys AS key
MATCH (:BlockingKey {key: key})<-[:HAS_BLOCKING_KEY]-(r:Record)
WITH DISTINCT r
RETURN r.id AS record_id, r.match_fields AS fields, r.blocking_keys AS keys
ORDER BY record_id
