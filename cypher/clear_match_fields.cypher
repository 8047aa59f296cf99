// Removes every record's match-index properties: the second half of emptying the match
// index before it is rebuilt for new matching settings (a whole-graph statement).
MATCH (r:Record)
WHERE r.match_fields IS NOT NULL
REMOVE r.match_fields, r.blocking_keys
