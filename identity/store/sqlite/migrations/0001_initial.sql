-- Schema version 1 of the embedded store. Applied once, inside one transaction, by
-- identity.store.sqlite; the version is kept in PRAGMA user_version.

-- Registered source mappings (JSON documents as validated by the domain).
CREATE TABLE sources (
    name    TEXT PRIMARY KEY,
    mapping TEXT NOT NULL
) WITHOUT ROWID;

-- Small JSON documents by key (e.g. the trained match model).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Source records. `identifiers` keeps the record's identifiers in order with their
-- original values; `record_identifiers` is the same information as graph edges.
CREATE TABLE records (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    source      TEXT NOT NULL,
    key         TEXT NOT NULL,
    identifiers TEXT NOT NULL,
    attributes  TEXT NOT NULL,
    raw         TEXT NOT NULL,
    timestamp   TEXT,
    profile_id  TEXT,
    ingested_at TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (source, key)
);
CREATE INDEX records_by_profile ON records (profile_id);

-- Record-has-identifier edges; an identifier node is a distinct (kind, value).
-- Clustered by identifier so lookups by identifier are one index range.
CREATE TABLE record_identifiers (
    kind      TEXT NOT NULL,
    value     TEXT NOT NULL,
    record_id INTEGER NOT NULL REFERENCES records (id),
    original  TEXT NOT NULL,
    PRIMARY KEY (kind, value, record_id)
) WITHOUT ROWID;
CREATE INDEX record_identifiers_by_record ON record_identifiers (record_id);

-- Identifiers that do not link, and why.
CREATE TABLE identifier_flags (
    kind         TEXT NOT NULL,
    value        TEXT NOT NULL,
    reason       TEXT NOT NULL,
    record_count INTEGER NOT NULL,
    PRIMARY KEY (kind, value)
) WITHOUT ROWID;

-- Record-to-record links; a < b.
CREATE TABLE links (
    a        INTEGER NOT NULL,
    b        INTEGER NOT NULL,
    type     TEXT NOT NULL,
    matcher  TEXT NOT NULL,
    weight   REAL NOT NULL,
    evidence TEXT NOT NULL,
    PRIMARY KEY (a, b, type, matcher)
) WITHOUT ROWID;
CREATE INDEX links_by_b ON links (b);

-- Profiles: live ones, ids merged away (redirect_to names the live survivor), and
-- tombstones of deleted ids so they are never reissued.
CREATE TABLE profiles (
    id          TEXT PRIMARY KEY,
    status      TEXT NOT NULL CHECK (status IN ('live', 'merged', 'deleted')),
    redirect_to TEXT,
    merged_from TEXT NOT NULL DEFAULT '[]',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX profiles_by_redirect ON profiles (redirect_to) WHERE redirect_to IS NOT NULL;
CREATE INDEX profiles_live ON profiles (status, id);
