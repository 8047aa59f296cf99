// Deletes records for good: the nodes with every relationship they have (identifier
// edges, links of any type, blocking-key edges, profile membership), then the blocking
// keys no record holds any more. $ids: record ids. Identifiers go in
// erase_orphan_identifiers, once every record of the batch is gone.
// The records are collected before any is deleted, so a key two of them share is checked
// after both have gone.
UNWIND $ids AS id
MATCH (r:Record {id: id})
OPTIONAL MATCH (r)-[:HAS_BLOCKING_KEY]->(k:BlockingKey)
WITH collect(DISTINCT r) AS records, collect(DISTINCT k) AS keys
FOREACH (r IN records | DETACH DELETE r)
WITH keys
UNWIND keys AS k
WITH k
WHERE NOT EXISTS { (k)<-[:HAS_BLOCKING_KEY]-() }
DELETE k
