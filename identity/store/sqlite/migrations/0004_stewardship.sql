-- Schema version 4: stewardship. Where a split-off profile came from, the log of profile
-- changes consuming systems read, the audit log, and an index for the review queue.

ALTER TABLE profiles ADD COLUMN split_from TEXT;

-- Every created, split, merged and deleted profile id; seq is never reused, so a
-- consumer's cursor (the last seq it saw) sees each later change exactly once.
CREATE TABLE profile_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL CHECK (kind IN ('created', 'merged', 'split', 'deleted')),
    profile_id TEXT NOT NULL,
    at         TEXT NOT NULL,
    related    TEXT
);

-- Who did what, when, why, with the state before and after (JSON). An undo names the
-- entry it reverses; an entry is reversed at most once.
CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    reason TEXT,
    before TEXT NOT NULL,
    after  TEXT NOT NULL,
    undoes INTEGER REFERENCES audit_log (id)
);
CREATE INDEX audit_log_by_actor ON audit_log (actor, id);
CREATE INDEX audit_log_by_action ON audit_log (action, id);
CREATE UNIQUE INDEX audit_log_undoes ON audit_log (undoes) WHERE undoes IS NOT NULL;

-- The review queue pages through links of one type.
CREATE INDEX links_by_type ON links (type, a, b);
