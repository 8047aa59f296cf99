// Identifiers of $kind carried by more than $more_than records, with their counts: what a
// changed cardinality cap may start or stop linking (a rule change's census of one kind).
MATCH (i:Identifier)
WHERE i.kind = $kind AND i.value IS NOT NULL
WITH i, COUNT { (i)<-[:HAS_IDENTIFIER]-(:Record) } AS records
WHERE records > $more_than
RETURN i.kind AS kind, i.value AS value, records
