// Moves records to profiles. $rows: [{record_id, profile_id}].
UNWIND $rows AS row
MATCH (r:Record {id: row.record_id})
OPTIONAL MATCH (r)-[old:IN_PROFILE]->(:Profile)
DELETE old
WITH DISTINCT r, row
MATCH (p:Profile {id: row.profile_id})
CREATE (r)-[:IN_PROFILE]->(p)
