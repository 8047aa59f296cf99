-- Schema version 7: the profile read model (issue 18, identity/profile_view.py). One row per
-- live profile, recomputed in the unit of work of every write that changes the profile:
-- golden record, identifiers, trait facts and current consent, so that exports and
-- segments read one row instead of every record and event.
-- A rowid table on purpose: rows are about 1.2 KB of JSON, past what WITHOUT ROWID suits
-- (about 1/20 of a page); measured on 104k rows it took 2.3x the space and scanned 1.7x
-- slower (docs/benchmarks.md, activation).
CREATE TABLE profile_view (
    profile_id   TEXT PRIMARY KEY,
    golden       TEXT NOT NULL,
    provenance   TEXT NOT NULL,
    identifiers  TEXT NOT NULL,
    linking      TEXT NOT NULL,
    first_seen   TEXT,
    last_seen    TEXT,
    events       INTEGER NOT NULL,
    event_counts TEXT NOT NULL,
    orders       INTEGER NOT NULL,
    order_value  REAL NOT NULL,
    last_order   TEXT,
    consent      TEXT NOT NULL,
    computed_at  TEXT NOT NULL
);
-- A store with no profile yet has a complete (empty) view; one with profiles is stale until
-- `idgraph profiles rebuild` fills it, and reads recompute from records and events meanwhile.
INSERT INTO meta (key, value)
  SELECT 'profile_view', '"new"'
  WHERE NOT EXISTS (SELECT 1 FROM profiles);
