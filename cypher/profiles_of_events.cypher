// The profiles whose journeys hold each event: those with a record carrying one of the
// event's identifiers that is not flagged. $ids: [event id].
// Hinted: each row is found from its own key, whatever the statistics say (on a young
// graph a scan from the other end can look free and then runs once per row).
UNWIND $ids AS id
MATCH (e:Event {event_id: id})-[:CARRIES]->(i:Identifier)
USING INDEX SEEK e:Event(event_id)
WHERE NOT EXISTS { MATCH (:FlaggedIdentifier {kind: i.kind, value: i.value}) }
MATCH (i)<-[:HAS_IDENTIFIER]-(:Record)-[:IN_PROFILE]->(p:Profile)
RETURN DISTINCT id AS event_id, p.id AS profile_id
ORDER BY event_id, profile_id
