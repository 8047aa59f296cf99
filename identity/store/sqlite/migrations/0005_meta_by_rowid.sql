-- Schema version 5: `meta` as a rowid table. In a WITHOUT ROWID table the whole row is the
-- b-tree key, so looking up any small document (the model's stamp, read on every request)
-- compared it with the trained model's row and read all of that row's overflow pages
-- (13 MB at 341,000 records): milliseconds per lookup. Keyed through the primary key's
-- own index, a lookup reads only the row it finds.
CREATE TABLE meta_by_rowid (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO meta_by_rowid (key, value) SELECT key, value FROM meta;
DROP TABLE meta;
ALTER TABLE meta_by_rowid RENAME TO meta;
