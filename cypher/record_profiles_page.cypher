// One page of every record's ref and profile, in (source, key) order after the last
// ref of the previous page: keyset paging over the record_ref index.
MATCH (r:Record)
WHERE r.source > $source OR (r.source = $source AND r.key > $key)
WITH r
ORDER BY r.source, r.key
LIMIT $limit
OPTIONAL MATCH (r)-[:IN_PROFILE]->(p:Profile)
RETURN r.source AS source, r.key AS key, p.id AS profile_id
ORDER BY source, key
