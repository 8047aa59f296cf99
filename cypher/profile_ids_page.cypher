// One page of live profile ids in ascending order, after the last id of the previous page.
MATCH (p:Profile)
WHERE p.status = 'live' AND p.id > $after
RETURN p.id AS id
ORDER BY id
LIMIT $limit
