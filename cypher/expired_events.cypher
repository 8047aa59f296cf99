// Ids of up to $limit events with a timestamp before $before (a DATETIME), oldest first.
MATCH (e:Event)
WHERE e.ts < $before
RETURN e.event_id AS event_id
ORDER BY e.ts, event_id
LIMIT $limit
