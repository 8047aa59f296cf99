// Stores a small JSON document by key, such as the trained match model.
MERGE (m:Meta {key: $key})
SET m.value = $value
