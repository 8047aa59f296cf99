// Deletes a segment with its members and its change log; returns 1 if there was one, else
// 0. The change sequence is kept, so seqs are never reused.
OPTIONAL MATCH (s:Segment {name: $name})
CALL (s) {
  MATCH (m:SegmentMember {segment: s.name})
  DELETE m
}
CALL (s) {
  // Every change has a seq; saying so lets the (segment, seq) index find the segment's.
  MATCH (c:SegmentChange {segment: s.name})
  WHERE c.seq IS NOT NULL
  DELETE c
}
DELETE s
RETURN count(s) AS deleted
