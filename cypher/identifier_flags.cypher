// Flagged identifiers for stewards, most shared first.
MATCH (f:FlaggedIdentifier)
RETURN f.kind AS kind, f.value AS value, f.reason AS reason, f.record_count AS record_count
ORDER BY record_count DESC, kind, value
LIMIT $limit
