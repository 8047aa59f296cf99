// Households by id; unknown ids give none. $ids: [household id].
UNWIND $ids AS id
MATCH (h:Household {id: id})
USING INDEX SEEK h:Household(id)
RETURN h.id AS id, h.members AS members, h.evidence AS evidence, h.since AS since
