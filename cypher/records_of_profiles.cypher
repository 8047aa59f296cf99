// The records of each profile. $ids: [profile id].
UNWIND $ids AS id
MATCH (p:Profile {id: id})<-[:IN_PROFILE]-(r:Record)
RETURN p.id AS profile_id, r.id AS record_id
ORDER BY profile_id, record_id
