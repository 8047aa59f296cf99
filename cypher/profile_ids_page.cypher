// One page of live profile ids in ascending order, after the last id of the previous page.
// A range of the id index, in its order (the hint), so a page reads about $limit profiles
// rather than every live one sorted.
MATCH (p:Profile)
USING INDEX SEEK p:Profile(id)
WHERE p.id > $after AND p.status = 'live'
RETURN p.id AS id
ORDER BY id
LIMIT $limit
