// One page of the match index in record id order after the last id of the previous page:
// keyset paging over the record_id constraint's index. $after: int, $limit: int.
MATCH (r:Record)
WHERE r.id > $after AND r.match_fields IS NOT NULL
RETURN r.id AS record_id, r.match_fields AS fields, r.blocking_keys AS keys
ORDER BY r.id
LIMIT $limit
