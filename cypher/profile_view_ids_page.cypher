// Up to $limit profile ids with a read-model row above $after, ascending (keyset paging).
// A range of the profile_id index, in its order (the hint), so a page reads about $limit
// rows rather than every row sorted.
MATCH (v:ProfileView)
USING INDEX SEEK v:ProfileView(profile_id)
WHERE v.profile_id > $after
RETURN v.profile_id AS profile_id
ORDER BY profile_id
LIMIT $limit
