-- Destinations: config, delivery state with its lease, and dead letters
-- (identity/store/sqlite/destinations.py). :names and :ids are JSON arrays.

-- name: add_destination
INSERT INTO destinations (name, segment, kind, config, secret, paused, created_at, created_by)
  VALUES (:name, :segment, :kind, :config, :secret, :paused, :created_at, :created_by)
  ON CONFLICT (name) DO NOTHING;

-- name: add_state
INSERT INTO destination_state (name, cursor_seq, snapshot_seq, snapshot_after)
  VALUES (:name, :cursor_seq, :snapshot_seq, :snapshot_after);

-- name: all_destinations
SELECT name, segment, kind, config, secret, paused, created_at, created_by
  FROM destinations
  ORDER BY name;

-- name: destinations_named
SELECT name, segment, kind, config, secret, paused, created_at, created_by
  FROM destinations
  WHERE name IN (SELECT value FROM json_each(:names))
  ORDER BY name;

-- name: remove_destination
DELETE
  FROM destinations
  WHERE name = :name;

-- name: set_paused
UPDATE destinations
  SET paused = :paused
  WHERE name = :name;

-- name: states
SELECT name, cursor_seq, snapshot_seq, snapshot_after, attempts, next_attempt_at, last_error,
       last_status, delivered_batches, delivered_rows, last_delivered_at, lease_owner, lease_until,
       stopped, stopped_at, snapshot_at
  FROM destination_state
  WHERE name IN (SELECT value FROM json_each(:names));

-- One statement, so two workers asking at once cannot both be granted.
-- name: take_lease
UPDATE destination_state
  SET lease_owner = :owner, lease_until = :until
  WHERE name = :name
  AND (lease_owner IS NULL OR lease_owner = :owner OR lease_until < :now);

-- name: release_lease
UPDATE destination_state
  SET lease_owner = NULL, lease_until = NULL
  WHERE name = :name AND lease_owner = :owner;

-- :owner NULL writes whoever holds the lease (a steward's edit). A worker (:owner given)
-- may stop a destination but never clears a stop: a segment deleted while it delivered
-- keeps its destinations stopped.
-- name: save_state
UPDATE destination_state
  SET cursor_seq = :cursor_seq,
      snapshot_seq = :snapshot_seq,
      snapshot_after = :snapshot_after,
      attempts = :attempts,
      next_attempt_at = :next_attempt_at,
      last_error = :last_error,
      last_status = :last_status,
      delivered_batches = :delivered_batches,
      delivered_rows = :delivered_rows,
      last_delivered_at = :last_delivered_at,
      stopped = CASE WHEN :owner IS NULL THEN :stopped ELSE coalesce(stopped, :stopped) END,
      stopped_at = CASE WHEN :owner IS NULL THEN :stopped_at ELSE coalesce(stopped_at, :stopped_at) END,
      snapshot_at = :snapshot_at
  WHERE name = :name
  AND (:owner IS NULL OR lease_owner = :owner);

-- name: add_dead_letter
INSERT INTO destination_dead_letters
  (destination, kind, from_seq, to_seq, after_id, last_id, status, attempts, last_status, last_error, at)
  VALUES (:destination, :kind, :from_seq, :to_seq, :after_id, :last_id, :status, :attempts, :last_status, :last_error, :at);

-- name: dead_letters
SELECT id, destination, kind, from_seq, to_seq, after_id, last_id, status, attempts, last_status, last_error, at
  FROM destination_dead_letters
  WHERE destination = :name
  AND (:ids IS NULL OR id IN (SELECT value FROM json_each(:ids)))
  AND (:status IS NULL OR status = :status)
  ORDER BY id;

-- name: update_dead_letter
UPDATE destination_dead_letters
  SET status = :status, attempts = :attempts, last_status = :last_status, last_error = :last_error, at = :at
  WHERE id = :id;

-- Stops every running destination that follows :segment (its segment was deleted);
-- returns their names.
-- name: stop_following
UPDATE destination_state
  SET stopped = :reason, stopped_at = :at, attempts = 0, next_attempt_at = NULL
  WHERE stopped IS NULL
  AND name IN (SELECT name FROM destinations WHERE segment = :segment)
  RETURNING name;
