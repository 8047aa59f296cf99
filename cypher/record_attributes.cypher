// The attributes documents of records, for the resolver's named picks. $ids: [record id].
UNWIND $ids AS id
MATCH (r:Record {id: id})
RETURN r.id AS id, r.attributes AS attributes
