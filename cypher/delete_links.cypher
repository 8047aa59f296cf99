// Deletes the links of a type between two records, whatever matcher made them, and
// returns how many went. $rows: [{a, b, type}] with a < b.
UNWIND $rows AS row
MATCH (:Record {id: row.a})-[l:LINK {type: row.type}]->(:Record {id: row.b})
WITH collect(DISTINCT l) AS gone
FOREACH (l IN gone | DELETE l)
RETURN size(gone) AS deleted
