// Up to $limit member profile ids of a segment above $after, ascending (keyset paging).
// Ordered by both properties of the (segment, profile_id) index so that the planner reads
// the page in index order and stops at $limit: ordered by profile_id alone, it seeks every
// member above $after and sorts them, on every page.
MATCH (m:SegmentMember {segment: $name})
WHERE m.profile_id > $after
WITH m
ORDER BY m.segment, m.profile_id
LIMIT $limit
RETURN m.profile_id AS profile_id
ORDER BY profile_id
