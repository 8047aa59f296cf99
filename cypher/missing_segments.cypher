// Which of $names name no segment (membership changes need their segment first).
UNWIND $names AS name
WITH name
WHERE NOT EXISTS { MATCH (:Segment {name: name}) }
RETURN name
ORDER BY name
