// The stored body of each event a put_events batch names, to tell new, changed and
// identical events apart. $ids: [event id].
UNWIND $ids AS id
MATCH (e:Event {event_id: id})
RETURN e.event_id AS event_id, e.body AS body
