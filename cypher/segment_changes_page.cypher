// One page of the whole change log by seq after the last seq of the previous page
// (for `idgraph migrate`).
MATCH (c:SegmentChange)
WHERE c.seq > $after
RETURN c.seq AS seq, c.segment AS segment, c.profile_id AS profile_id, c.kind AS kind, c.at AS at, c.merged_into AS merged_into
ORDER BY seq
LIMIT $limit
