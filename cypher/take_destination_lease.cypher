// Takes or renews a destination's lease for $owner: granted (taken 1) when nobody holds
// it, $owner does, or the holder's ended before $now (UTC ISO-8601 text orders as time).
// The write before the read takes the node's lock first, so workers asking at once queue
// and the second sees the first's owner.
MATCH (d:Destination {name: $name})
SET d.lease_lock = true
REMOVE d.lease_lock
WITH d
WHERE d.lease_owner IS NULL OR d.lease_owner = $owner OR d.lease_until < $now
SET d.lease_owner = $owner, d.lease_until = $until
RETURN count(d) AS taken
