// The registered mappings (JSON text) of several sources, by name; unknown names give no
// row. Params: $names, a list of source names.
UNWIND $names AS name
MATCH (s:Source {name: name})
RETURN s.name AS name, s.mapping AS mapping
