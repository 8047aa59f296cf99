// Writes a destination's delivery state (not its lease) if $owner holds the lease ($owner
// null: whoever does); saved is 0 otherwise. $state: the DestinationState fields. A worker
// ($owner given) may stop a destination but never clears a stop (a segment deleted while
// it delivered keeps its destinations stopped).
MATCH (d:Destination {name: $name})
SET d.lease_lock = true
REMOVE d.lease_lock
WITH d
WHERE $owner IS NULL OR d.lease_owner = $owner
SET d.cursor_seq = $state.cursor_seq,
    d.snapshot_seq = $state.snapshot_seq,
    d.snapshot_after = $state.snapshot_after,
    d.attempts = $state.attempts,
    d.next_attempt_at = $state.next_attempt_at,
    d.last_error = $state.last_error,
    d.last_status = $state.last_status,
    d.delivered_batches = $state.delivered_batches,
    d.delivered_rows = $state.delivered_rows,
    d.last_delivered_at = $state.last_delivered_at,
    d.stopped = CASE WHEN $owner IS NULL THEN $state.stopped ELSE coalesce(d.stopped, $state.stopped) END,
    d.stopped_at = CASE WHEN $owner IS NULL THEN $state.stopped_at ELSE coalesce(d.stopped_at, $state.stopped_at) END,
    d.snapshot_at = $state.snapshot_at
RETURN count(d) AS saved
