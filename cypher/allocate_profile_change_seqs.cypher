// Reserves $count consecutive seqs of the profile change log and returns the first. The
// write to the sequence node comes before the read so concurrent writers queue on its
// lock instead of reading the same value; delete_everything keeps the node, so a seq is
// never reused (a consumer's cursor never skips a change).
MERGE (s:Sequence {name: 'profile_change'})
  ON CREATE SET s.next = 1
SET s.locked = true
WITH s
WITH s, s.next AS first
SET s.next = first + $count
REMOVE s.locked
RETURN first
