// A destination's dead letters, by id ($ids null: all) and status ($status null: any),
// oldest first.
MATCH (l:DestinationDeadLetter {destination: $name})
WHERE ($ids IS NULL OR l.id IN $ids) AND ($status IS NULL OR l.status = $status)
RETURN l.id AS id, l.destination AS destination, l.kind AS kind, l.from_seq AS from_seq, l.to_seq AS to_seq, l.after_id AS after_id, l.last_id AS last_id, l.status AS status, l.attempts AS attempts, l.last_status AS last_status, l.last_error AS last_error, l.at AS at
ORDER BY id
