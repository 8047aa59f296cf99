// A small JSON document by key (e.g. the trained match model).
MERGE (m:Meta {key: $key})
SET m.value = $value
