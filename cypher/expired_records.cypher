// Ids of up to $limit records of $source whose time (their own timestamp, else when they
// were last changed here) is before $before (ISO-8601 text), ascending. A retention scan
// of one source: it reads every record of the source, found through the (source, key)
// index (every record has a key).
MATCH (r:Record)
USING INDEX r:Record(source, key)
WHERE r.source = $source
AND r.key IS NOT NULL
AND datetime(coalesce(r.timestamp, r.updated_at)) < datetime($before)
RETURN r.id AS id
ORDER BY id
LIMIT $limit
