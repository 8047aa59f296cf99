// Appends membership changes to the log. $rows: [{seq, segment, profile_id, kind, at,
// merged_into}]: kind 'entered' or 'exited', at ISO-8601 text, merged_into null unless the
// profile exited because it was merged away.
UNWIND $rows AS row
CREATE (:SegmentChange {
  seq: row.seq,
  segment: row.segment,
  profile_id: row.profile_id,
  kind: row.kind,
  at: row.at,
  merged_into: row.merged_into
})
