// Appends profile changes to the log; an existing seq violates profile_change_seq and
// fails the batch. $rows: [{seq, kind, profile_id, at, related}]: kind 'created', 'split',
// 'merged' or 'deleted'; at ISO-8601 text; related the origin of a split or the survivor
// of a merge, else null (not stored).
UNWIND $rows AS row
CREATE (:ProfileChange {
  seq: row.seq,
  kind: row.kind,
  profile_id: row.profile_id,
  at: row.at,
  related: row.related
})
