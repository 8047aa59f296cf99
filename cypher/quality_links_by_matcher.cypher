// Stored links per matcher and type, most first, for the quality page. Reads every link:
// a whole-graph read.
MATCH ()-[l:LINK]->()
RETURN l.matcher AS matcher, l.type AS type, count(*) AS links
ORDER BY links DESC, matcher, type
