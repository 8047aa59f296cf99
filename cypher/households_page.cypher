// Up to $limit households with an id above $after, ascending (keyset paging), read in
// the household_id index's order.
MATCH (h:Household)
USING INDEX SEEK h:Household(id)
WHERE h.id > $after
RETURN h.id AS id, h.members AS members, h.evidence AS evidence, h.since AS since
ORDER BY id
LIMIT $limit
