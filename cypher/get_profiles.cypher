// Live profiles by id (no redirect following). $ids: [profile id].
// By id (the hint): the planner may otherwise seek every live profile by status per row.
UNWIND $ids AS id
MATCH (p:Profile {id: id})
USING INDEX SEEK p:Profile(id)
WHERE p.status = 'live'
RETURN p.id AS id, p.created_at AS created_at, p.updated_at AS updated_at, p.merged_from AS merged_from, p.split_from AS split_from
