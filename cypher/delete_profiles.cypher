// Profiles that lost all their records without a survivor become tombstones, so their
// ids stay unknown instead of being reissued.
UNWIND $ids AS id
MATCH (p:Profile {id: id})
SET p.status = 'deleted', p.updated_at = $now
WITH p
OPTIONAL MATCH (p)-[redirect:REDIRECTS_TO]->(:Profile)
DELETE redirect
