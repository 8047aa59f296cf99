// The profiles whose journeys hold each event: those with a record carrying one of the
// event's identifiers that is not flagged. $ids: [event id].
UNWIND $ids AS id
MATCH (:Event {event_id: id})-[:CARRIES]->(i:Identifier)
WHERE NOT EXISTS { MATCH (:FlaggedIdentifier {kind: i.kind, value: i.value}) }
MATCH (i)<-[:HAS_IDENTIFIER]-(:Record)-[:IN_PROFILE]->(p:Profile)
RETURN DISTINCT id AS event_id, p.id AS profile_id
ORDER BY event_id, profile_id
