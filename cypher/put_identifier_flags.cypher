// Flags identifiers that do not link, replacing an earlier flag of the same identifier.
// $rows: [{kind, value, reason, record_count}].
UNWIND $rows AS row
MERGE (f:FlaggedIdentifier {kind: row.kind, value: row.value})
SET f.reason = row.reason, f.record_count = row.record_count
