// Up to $limit logged changes of a segment with seq above $after, by seq.
MATCH (c:SegmentChange {segment: $name})
WHERE c.seq > $after
RETURN c.seq AS seq, c.segment AS segment, c.profile_id AS profile_id, c.kind AS kind, c.at AS at, c.merged_into AS merged_into
ORDER BY seq
LIMIT $limit
