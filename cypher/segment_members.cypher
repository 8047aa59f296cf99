// Up to $limit member profile ids of a segment above $after, ascending (keyset paging).
MATCH (m:SegmentMember {segment: $name})
WHERE m.profile_id > $after
RETURN m.profile_id AS profile_id
ORDER BY profile_id
LIMIT $limit
