// The current profile of each record. $ids: [record id].
UNWIND $ids AS id
MATCH (r:Record {id: id})-[:IN_PROFILE]->(p:Profile)
RETURN r.id AS record_id, p.id AS profile_id
