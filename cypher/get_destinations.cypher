// Destinations by name ($names null: all), sorted by name.
MATCH (d:Destination)
WHERE $names IS NULL OR d.name IN $names
RETURN d.name AS name, d.segment AS segment, d.kind AS kind, d.config AS config, d.secret AS secret, d.paused AS paused, d.created_at AS created_at, d.created_by AS created_by
ORDER BY name
