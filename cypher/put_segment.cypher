// Creates a segment or replaces its definition (JSON text), keeping its creation time.
MERGE (s:Segment {name: $name})
  ON CREATE SET s.created_at = $now
SET s.definition = $definition, s.updated_at = $now
