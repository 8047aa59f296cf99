// The match-index entries of records by id, for records found another way (through an
// identifier) that a search compares; records without an entry are left out.
// $ids: [record id].
UNWIND $ids AS id
MATCH (r:Record {id: id})
WHERE r.match_fields IS NOT NULL
RETURN r.id AS record_id, r.match_fields AS fields, r.blocking_keys AS keys
ORDER BY record_id
