// One page of flagged identifiers by (kind, value) after the last key of the previous
// page: keyset paging over the flagged_identifier_key index (for `idgraph migrate`). The
// rest of the cursor's kind and the kinds after it are two index seeks in index order,
// each stopping at $limit, so a page costs its own size (as record_profiles_page).
// Params: $kind, $value (both '' for the first page), $limit.
CALL () {
  MATCH (f:FlaggedIdentifier)
  USING INDEX SEEK f:FlaggedIdentifier(kind, value)
  WHERE f.kind = $kind AND f.value > $value
  RETURN f
  ORDER BY f.kind, f.value
  LIMIT $limit
  UNION ALL
  MATCH (f:FlaggedIdentifier)
  USING INDEX SEEK f:FlaggedIdentifier(kind, value)
  WHERE f.kind > $kind AND f.value IS NOT NULL
  RETURN f
  ORDER BY f.kind, f.value
  LIMIT $limit
}
RETURN f.kind AS kind, f.value AS value, f.reason AS reason, f.record_count AS record_count
ORDER BY kind, value
LIMIT $limit
