// Writes a dead letter's status, attempts and last error after a replay.
MATCH (l:DestinationDeadLetter {id: $id})
SET l.status = $status, l.attempts = $attempts, l.last_status = $last_status, l.last_error = $last_error, l.at = $at
