// Reserves $count consecutive audit entry ids and returns the first. The write to the
// sequence node comes before the read so concurrent writers queue on its lock instead of
// reading the same value; delete_everything keeps the node, so an id is never reused.
MERGE (s:Sequence {name: 'audit_entry'})
  ON CREATE SET s.next = 1
SET s.locked = true
WITH s
WITH s, s.next AS first
SET s.next = first + $count
REMOVE s.locked
RETURN first
