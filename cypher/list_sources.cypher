// Names of the registered sources, sorted.
MATCH (s:Source)
RETURN s.name AS name
ORDER BY name
