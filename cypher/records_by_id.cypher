// Records with their profile. $ids: [record id].
UNWIND $ids AS id
MATCH (r:Record {id: id})
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
