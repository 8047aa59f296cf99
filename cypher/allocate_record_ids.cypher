// Reserves $count consecutive record ids and returns the first. The write to the
// sequence node comes before the read so concurrent batches queue on its lock instead of
// reading the same value.
MERGE (s:Sequence {name: 'record'})
  ON CREATE SET s.next = 1
SET s.locked = true
WITH s
WITH s, s.next AS first
SET s.next = first + $count
REMOVE s.locked
RETURN first
