// The current profile of each record. $ids: [record id].
// Hinted: each row is found from its own key, whatever the statistics say (on a young
// graph a scan from the other end can look free and then runs once per row).
UNWIND $ids AS id
MATCH (r:Record {id: id})-[:IN_PROFILE]->(p:Profile)
USING INDEX SEEK r:Record(id)
RETURN r.id AS record_id, p.id AS profile_id
