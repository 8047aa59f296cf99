// Stops every running destination that follows $segment (its segment was deleted):
// stopped = $reason, stopped_at = $at (UTC ISO-8601 text); returns their names.
MATCH (d:Destination {segment: $segment})
WHERE d.stopped IS NULL
SET d.stopped = $reason,
    d.stopped_at = $at,
    d.attempts = 0,
    d.next_attempt_at = null
RETURN d.name AS name
ORDER BY name
