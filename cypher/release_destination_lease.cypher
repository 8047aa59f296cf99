// Gives a destination's lease up if $owner holds it.
MATCH (d:Destination {name: $name})
WHERE d.lease_owner = $owner
SET d.lease_owner = null, d.lease_until = null
