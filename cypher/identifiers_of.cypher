// The identifiers records carry, in their order and with their originals (JSON text).
UNWIND $ids AS id
MATCH (r:Record {id: id})
RETURN r.id AS id, r.identifiers AS identifiers
