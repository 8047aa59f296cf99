// A metadata document (JSON text) by key.
MATCH (m:Meta {key: $key})
RETURN m.value AS value
