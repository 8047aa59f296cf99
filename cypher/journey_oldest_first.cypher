// One page of a profile's journey, oldest first: the events carried by any identifier of the
// profile's records, each once, leaving out flagged identifiers (a junk e-mail would pull
// in strangers' events). Optional filters are null when unused: $types, $channels (lists),
// $since (inclusive), $until (exclusive); $after_ts, $after_id: the keyset (timestamp,
// event id) of the last event of the previous page. Times are DATETIMEs in UTC.
// From the profile (the hint): with few profiles and many events the planner may
// otherwise start from the events and join every profile in.
MATCH (p:Profile {id: $profile})<-[:IN_PROFILE]-(:Record)-[:HAS_IDENTIFIER]->(i:Identifier)
USING INDEX SEEK p:Profile(id)
WHERE NOT EXISTS { MATCH (:FlaggedIdentifier {kind: i.kind, value: i.value}) }
WITH DISTINCT i
MATCH (i)<-[:CARRIES]-(e:Event)
WITH DISTINCT e
WHERE ($types IS NULL OR e.type IN $types)
  AND ($channels IS NULL OR e.channel IN $channels)
  AND ($since IS NULL OR e.ts >= $since)
  AND ($until IS NULL OR e.ts < $until)
  AND ($after_ts IS NULL OR e.ts > $after_ts OR (e.ts = $after_ts AND e.event_id > $after_id))
RETURN e.event_id AS event_id, e.body AS body
ORDER BY e.ts ASC, event_id ASC
LIMIT $limit
