// One page of events by ascending event id after the last id of the previous page:
// keyset paging over the event_id index (for `idgraph migrate`).
MATCH (e:Event)
WHERE e.event_id > $after
RETURN e.event_id AS event_id, e.body AS body
ORDER BY event_id
LIMIT $limit
