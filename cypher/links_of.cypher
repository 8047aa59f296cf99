// Record-to-record links touching any of $ids, of the given $types (null: all), with
// their evidence unless $evidence is false (then '{}'). Links are stored from the lower
// record id to the higher one.
// Hinted: each row is found from its own key, whatever the statistics say (on a young
// graph a scan from the other end can look free and then runs once per row).
UNWIND $ids AS id
MATCH (r:Record {id: id})-[l:LINK]-(:Record)
USING INDEX SEEK r:Record(id)
WHERE $types IS NULL OR l.type IN $types
WITH DISTINCT l
RETURN
  startNode(l).id AS a,
  endNode(l).id AS b,
  l.type AS type,
  l.matcher AS matcher,
  l.weight AS weight,
  CASE WHEN $evidence THEN l.evidence ELSE '{}' END AS evidence
ORDER BY a, b, type, matcher
