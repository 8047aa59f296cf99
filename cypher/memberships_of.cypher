// The segments each profile is a member of. $ids: [profile id].
UNWIND $ids AS id
MATCH (m:SegmentMember {profile_id: id})
RETURN id AS profile_id, m.segment AS segment
ORDER BY profile_id, segment
