-- Source mappings and store metadata.
-- Parameters named ids, keys, refs and names are JSON arrays unpacked by json_each.

-- name: get_source
SELECT mapping
  FROM sources
  WHERE name = ?;

-- name: get_sources
SELECT name, mapping
  FROM sources
  WHERE name IN (SELECT value FROM json_each(:names));

-- name: put_source
INSERT INTO sources (name, mapping)
  VALUES (?, ?)
  ON CONFLICT (name)
  DO UPDATE SET mapping = excluded.mapping;

-- name: list_sources
SELECT name
  FROM sources
  ORDER BY name;

-- name: get_meta
SELECT value
  FROM meta
  WHERE key = ?;

-- name: put_meta
INSERT INTO meta (key, value)
  VALUES (?, ?)
  ON CONFLICT (key)
  DO UPDATE SET value = excluded.value;

-- name: meta_keys
SELECT key
  FROM meta
  ORDER BY key;
