// The (source, key) of records by id. $ids: [record id].
UNWIND $ids AS id
MATCH (r:Record {id: id})
RETURN r.id AS id, r.source AS source, r.key AS key
