// One page of every record's ref and profile, in (source, key) order after the last
// ref of the previous page: keyset paging over the record_ref index. The rest of the
// cursor's source and the sources after it are two index seeks read in index order, each
// stopping at $limit, so a page costs its own size whatever the graph's (one filter with
// OR cannot seek: each page scanned every record, and reading them all was quadratic).
// Params: $source, $key (both '' for the first page), $limit.
CALL () {
  MATCH (r:Record)
  USING INDEX SEEK r:Record(source, key)
  WHERE r.source = $source AND r.key > $key
  RETURN r
  ORDER BY r.source, r.key
  LIMIT $limit
  UNION ALL
  MATCH (r:Record)
  USING INDEX SEEK r:Record(source, key)
  WHERE r.source > $source AND r.key IS NOT NULL
  RETURN r
  ORDER BY r.source, r.key
  LIMIT $limit
}
WITH r
ORDER BY r.source, r.key
LIMIT $limit
OPTIONAL MATCH (r)-[:IN_PROFILE]->(p:Profile)
RETURN r.source AS source, r.key AS key, p.id AS profile_id
ORDER BY source, key
