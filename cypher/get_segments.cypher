// The named segments ($names; null for all), sorted by name.
MATCH (s:Segment)
WHERE $names IS NULL OR s.name IN $names
RETURN s.name AS name, s.definition AS definition, s.created_at AS created_at, s.updated_at AS updated_at
ORDER BY name
