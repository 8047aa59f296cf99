// Up to $limit logged changes of a segment with seq above $after, by seq.
// Ordered by both properties of the (segment, seq) index, the page is read in index order
// up to $limit (by seq alone, every change above $after was sought and sorted).
MATCH (c:SegmentChange {segment: $name})
WHERE c.seq > $after
WITH c
ORDER BY c.segment, c.seq
LIMIT $limit
RETURN c.seq AS seq, c.segment AS segment, c.profile_id AS profile_id, c.kind AS kind, c.at AS at, c.merged_into AS merged_into
ORDER BY seq
