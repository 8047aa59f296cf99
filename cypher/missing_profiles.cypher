// Which of $ids name no profile at all (records copied into a store need theirs first).
UNWIND $ids AS id
WITH id
WHERE NOT EXISTS { MATCH (:Profile {id: id}) }
RETURN id
ORDER BY id
