// Registers a destination with its first delivery state, unless the name is taken
// (added 0 then; the destination_name constraint guards a race). Times are UTC ISO-8601
// text. $row: {name, segment, kind, config, secret, paused, created_at, created_by,
// cursor_seq, snapshot_seq, snapshot_after}.
OPTIONAL MATCH (taken:Destination {name: $row.name})
WITH taken
WHERE taken IS NULL
CREATE (d:Destination {
  name: $row.name,
  segment: $row.segment,
  kind: $row.kind,
  config: $row.config,
  secret: $row.secret,
  paused: $row.paused,
  created_at: $row.created_at,
  created_by: $row.created_by,
  cursor_seq: $row.cursor_seq,
  snapshot_seq: $row.snapshot_seq,
  snapshot_after: $row.snapshot_after,
  attempts: 0,
  delivered_batches: 0,
  delivered_rows: 0
})
RETURN count(d) AS added
