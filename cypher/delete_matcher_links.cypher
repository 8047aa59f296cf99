// Deletes every link made by $matcher that touches any of $ids.
UNWIND $ids AS id
MATCH (:Record {id: id})-[l:LINK {matcher: $matcher}]-(:Record)
WITH DISTINCT l
DELETE l
