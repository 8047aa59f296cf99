-- Destinations (issue 18): push a segment's changes to a webhook or a folder. The config
-- is the validated JSON document of identity/destinations/model.py; the secret is a
-- webhook's HMAC key (NULL when it is read from an environment variable). Bodies are never
-- stored: a dead letter is a range of segment_changes (or of a snapshot's members).
CREATE TABLE destinations (
    name       TEXT PRIMARY KEY,
    segment    TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('webhook', 'file')),
    config     TEXT NOT NULL,
    secret     TEXT,
    paused     INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
);

CREATE TABLE destination_state (
    name              TEXT PRIMARY KEY REFERENCES destinations (name) ON DELETE CASCADE,
    cursor_seq        INTEGER NOT NULL DEFAULT 0,
    snapshot_seq      INTEGER,
    snapshot_after    TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   TEXT,
    last_error        TEXT,
    last_status       INTEGER,
    delivered_batches INTEGER NOT NULL DEFAULT 0,
    delivered_rows    INTEGER NOT NULL DEFAULT 0,
    last_delivered_at TEXT,
    lease_owner       TEXT,
    lease_until       TEXT
);

CREATE TABLE destination_dead_letters (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    destination TEXT NOT NULL REFERENCES destinations (name) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('snapshot', 'changes')),
    from_seq    INTEGER NOT NULL,
    to_seq      INTEGER NOT NULL,
    after_id    TEXT,
    last_id     TEXT,
    status      TEXT NOT NULL CHECK (status IN ('dead', 'replayed')),
    attempts    INTEGER NOT NULL,
    last_status INTEGER,
    last_error  TEXT,
    at          TEXT NOT NULL
);

CREATE INDEX destination_dead_letters_by_status
    ON destination_dead_letters (destination, status, id);
