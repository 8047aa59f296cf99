// Puts copied records into their profiles (new records: no earlier profile to leave).
// $rows: [{record_id, profile_id}].
UNWIND $rows AS row
MATCH (r:Record {id: row.record_id})
MATCH (p:Profile {id: row.profile_id})
CREATE (r)-[:IN_PROFILE]->(p)
