MATCH (s:Source {name: $name})
RETURN s.mapping AS mapping
