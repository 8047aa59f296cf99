// Live profiles whose content changed get the new time.
UNWIND $ids AS id
MATCH (p:Profile {id: id})
WHERE p.status = 'live'
SET p.updated_at = $now
