// One page of whole records with their profile, by ascending id after the last id of the
// previous page: keyset paging over the record_id index (for `idgraph migrate`).
MATCH (r:Record)
WHERE r.id > $after
WITH r
ORDER BY r.id
LIMIT $limit
OPTIONAL MATCH (r)-[:IN_PROFILE]->(p:Profile)
RETURN
  r.id AS id,
  r.source AS source,
  r.key AS key,
  r.identifiers AS identifiers,
  r.attributes AS attributes,
  r.raw AS raw,
  r.timestamp AS timestamp,
  p.id AS profile_id,
  r.ingested_at AS ingested_at,
  r.updated_at AS updated_at
ORDER BY id
