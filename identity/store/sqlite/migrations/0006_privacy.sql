-- Privacy (issue 14): the suppression list of erased identifiers, by salted hash.
CREATE TABLE suppressions (
    hash     TEXT PRIMARY KEY,
    kind     TEXT NOT NULL,
    at       TEXT NOT NULL,
    audit_id INTEGER
) WITHOUT ROWID;
