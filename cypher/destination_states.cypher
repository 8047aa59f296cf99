// The delivery state of the named destinations.
MATCH (d:Destination)
WHERE d.name IN $names
RETURN d.name AS name, d.cursor_seq AS cursor_seq, d.snapshot_seq AS snapshot_seq, d.snapshot_after AS snapshot_after, d.attempts AS attempts, d.next_attempt_at AS next_attempt_at, d.last_error AS last_error, d.last_status AS last_status, d.delivered_batches AS delivered_batches, d.delivered_rows AS delivered_rows, d.last_delivered_at AS last_delivered_at, d.lease_owner AS lease_owner, d.lease_until AS lease_until, d.stopped AS stopped, d.stopped_at AS stopped_at, d.snapshot_at AS snapshot_at
