// Identifiers of any kind whose value, trimmed and lower-cased, is one of $values, with
// their record counts: what a changed `any` blocklist entry names. Reads every identifier
// (a rule change's census, not a request path).
MATCH (i:Identifier)
WHERE toLower(trim(i.value)) IN $values
RETURN i.kind AS kind, i.value AS value, COUNT { (i)<-[:HAS_IDENTIFIER]-(:Record) } AS records
