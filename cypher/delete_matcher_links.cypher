// Deletes every link made by $matcher that touches any of $ids.
// Hinted: each row is found from its own key, whatever the statistics say (on a young
// graph a scan from the other end can look free and then runs once per row).
UNWIND $ids AS id
MATCH (r:Record {id: id})-[l:LINK {matcher: $matcher}]-(:Record)
USING INDEX SEEK r:Record(id)
WITH DISTINCT l
DELETE l
