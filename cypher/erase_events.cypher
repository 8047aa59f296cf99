// Deletes events for good with their identifier edges, and returns how many there were
// and the identifiers they carried (for erase_orphan_identifiers). $ids: event ids.
UNWIND $ids AS id
MATCH (e:Event {event_id: id})
OPTIONAL MATCH (e)-[:CARRIES]->(i:Identifier)
WITH collect(DISTINCT e) AS events, collect(DISTINCT {kind: i.kind, value: i.value}) AS carried
FOREACH (e IN events | DETACH DELETE e)
RETURN size(events) AS deleted, carried
