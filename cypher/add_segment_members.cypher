// Makes profiles members of segments (once each). $rows: [{segment, profile_id}].
UNWIND $rows AS row
MERGE (:SegmentMember {segment: row.segment, profile_id: row.profile_id})
