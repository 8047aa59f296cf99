// The per-field warning counts of every ingest audit entry that has any (the
// "warnings_by_field" object of its after, as JSON text), with the entry's source: the
// adapter sums them, as Cypher cannot read a JSON object's keys without APOC. One row per
// audited load with warnings, through the audit_entry_action index.
MATCH (e:AuditEntry)
WHERE e.action = 'ingest' AND e.target IS NOT NULL AND e.after CONTAINS '"warnings_by_field":{"'
RETURN e.target AS source, e.after AS after
