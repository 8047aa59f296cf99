// The highest seq logged so far (no row before any change), read from the end of the
// segment_change_seq index.
MATCH (c:SegmentChange)
WHERE c.seq IS NOT NULL
RETURN c.seq AS seq
ORDER BY seq DESC
LIMIT 1
