// Batched journeys: each profile's page of journey_oldest_first.cypher (the same filters,
// keyset and $limit for each). $ids: [profile id]. Hinted as events_of_profiles.cypher is.
UNWIND $ids AS id
MATCH (p:Profile {id: id})<-[:IN_PROFILE]-(:Record)-[:HAS_IDENTIFIER]->(i:Identifier)
USING INDEX SEEK p:Profile(id)
WHERE NOT EXISTS { MATCH (:FlaggedIdentifier {kind: i.kind, value: i.value}) }
WITH DISTINCT id, i
MATCH (i)<-[:CARRIES]-(e:Event)
WITH DISTINCT id, e
WHERE ($types IS NULL OR e.type IN $types)
  AND ($channels IS NULL OR e.channel IN $channels)
  AND ($since IS NULL OR e.ts >= $since)
  AND ($until IS NULL OR e.ts < $until)
  AND ($after_ts IS NULL OR e.ts > $after_ts OR (e.ts = $after_ts AND e.event_id > $after_id))
WITH id, e
ORDER BY e.ts ASC, e.event_id ASC
WITH id, collect(e)[..$limit] AS page
UNWIND page AS e
RETURN id AS profile_id, e.event_id AS event_id, e.body AS body
