// Live profiles whose content changed get the new time.
// By id (the hint): the planner may otherwise seek every live profile by status per row.
UNWIND $ids AS id
MATCH (p:Profile {id: id})
USING INDEX SEEK p:Profile(id)
WHERE p.status = 'live'
SET p.updated_at = $now
