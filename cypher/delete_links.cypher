// Deletes the links of a type between two records, whatever matcher made them, and
// returns how many went. $rows: [{a, b, type}] with a < b.
// Found from both records (the hints): left to its statistics the planner may seek the
// LINK.type index instead, every link of the type per row.
UNWIND $rows AS row
MATCH (a:Record {id: row.a})-[l:LINK {type: row.type}]->(b:Record {id: row.b})
USING INDEX SEEK a:Record(id)
USING INDEX SEEK b:Record(id)
WITH collect(DISTINCT l) AS gone
FOREACH (l IN gone | DELETE l)
RETURN size(gone) AS deleted
