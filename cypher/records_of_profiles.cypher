// The records of each profile. $ids: [profile id].
// Hinted: each row is found from its own key, whatever the statistics say (on a young
// graph a scan from the other end can look free and then runs once per row).
UNWIND $ids AS id
MATCH (p:Profile {id: id})<-[:IN_PROFILE]-(r:Record)
USING INDEX SEEK p:Profile(id)
RETURN p.id AS profile_id, r.id AS record_id
ORDER BY profile_id, record_id
