// Removes profiles from segments. $rows: [{segment, profile_id}].
UNWIND $rows AS row
MATCH (m:SegmentMember {segment: row.segment, profile_id: row.profile_id})
DELETE m
