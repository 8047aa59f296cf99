// A source's registered mapping (JSON text), by name.
MATCH (s:Source {name: $name})
RETURN s.mapping AS mapping
