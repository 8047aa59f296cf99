// The match-index entries of the records holding any of the blocking keys, each once,
// by record id: a new record's candidates. $keys: [string].
// Hinted: each row is found from its own key, whatever the statistics say (on a young
// graph a scan from the other end can look free and then runs once per row).
UNWIND $keys AS key
MATCH (k:BlockingKey {key: key})<-[:HAS_BLOCKING_KEY]-(r:Record)
USING INDEX SEEK k:BlockingKey(key)
WITH DISTINCT r
RETURN r.id AS record_id, r.match_fields AS fields, r.blocking_keys AS keys
ORDER BY record_id
