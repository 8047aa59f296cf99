// Pauses or resumes a destination; changed is 0 when there is none.
MATCH (d:Destination {name: $name})
SET d.paused = $paused
RETURN count(d) AS changed
