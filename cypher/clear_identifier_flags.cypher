// Clears the flags of identifiers that link again. $keys: [{kind, value}].
UNWIND $keys AS key
MATCH (f:FlaggedIdentifier {kind: key.kind, value: key.value})
DELETE f
