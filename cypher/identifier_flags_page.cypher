// One page of flagged identifiers by (kind, value) after the last key of the previous
// page: keyset paging over the flagged_identifier_key index (for `idgraph migrate`).
MATCH (f:FlaggedIdentifier)
WHERE f.kind > $kind OR (f.kind = $kind AND f.value > $value)
RETURN f.kind AS kind, f.value AS value, f.reason AS reason, f.record_count AS record_count
ORDER BY kind, value
LIMIT $limit
