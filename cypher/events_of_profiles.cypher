// Every event of each profile (as the journey finds them) at or after $since (null for
// all), oldest first by (timestamp, event id). $ids: [profile id].
// Hinted: each row is found from its own key, whatever the statistics say (on a young
// graph a scan from the other end can look free and then runs once per row).
UNWIND $ids AS id
MATCH (p:Profile {id: id})<-[:IN_PROFILE]-(:Record)-[:HAS_IDENTIFIER]->(i:Identifier)
USING INDEX SEEK p:Profile(id)
WHERE NOT EXISTS { MATCH (:FlaggedIdentifier {kind: i.kind, value: i.value}) }
WITH DISTINCT id, i
MATCH (i)<-[:CARRIES]-(e:Event)
WHERE $since IS NULL OR e.ts >= $since
WITH DISTINCT id, e
RETURN id AS profile_id, e.ts AS ts, e.event_id AS event_id, e.body AS body
ORDER BY profile_id, ts, event_id
