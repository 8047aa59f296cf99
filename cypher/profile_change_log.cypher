// Up to $limit logged profile changes with seq above $after (a consumer's cursor, 0 for
// the start), by seq: a range scan of the profile_change_seq index.
MATCH (c:ProfileChange)
WHERE c.seq > $after
RETURN c.seq AS seq, c.kind AS kind, c.profile_id AS profile_id, c.at AS at, c.related AS related
ORDER BY seq
LIMIT $limit
