// Registers or replaces a source's mapping (a JSON document).
MERGE (s:Source {name: $name})
SET s.mapping = $mapping
