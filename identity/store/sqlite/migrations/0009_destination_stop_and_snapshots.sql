-- Destinations (docs/activation.md): a destination whose segment was deleted is stopped,
-- visibly, until a steward resumes it (stopped = 'segment_removed', stopped_at = when the
-- segment went); snapshot_at is when its newest full snapshot began, from which a file
-- destination's recurring snapshots (--snapshot-every) count. New config keys
-- (max_batch_bytes, snapshot_every_hours) live in destinations.config and need no column.
ALTER TABLE destination_state ADD COLUMN stopped TEXT;
ALTER TABLE destination_state ADD COLUMN stopped_at TEXT;
ALTER TABLE destination_state ADD COLUMN snapshot_at TEXT;
