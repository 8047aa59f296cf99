// Appends a dead letter with the next id of its sequence (written before it is read, so
// concurrent writers queue on the sequence node's lock). $row: the DeadLetter fields.
MERGE (s:Sequence {name: 'destination_dead_letter'})
  ON CREATE SET s.next = 1
SET s.locked = true
WITH s
WITH s, s.next AS id
SET s.next = id + 1
REMOVE s.locked
CREATE (l:DestinationDeadLetter {
  id: id,
  destination: $row.destination,
  kind: $row.kind,
  from_seq: $row.from_seq,
  to_seq: $row.to_seq,
  after_id: $row.after_id,
  last_id: $row.last_id,
  status: $row.status,
  attempts: $row.attempts,
  last_status: $row.last_status,
  last_error: $row.last_error,
  at: $row.at
})
RETURN id
