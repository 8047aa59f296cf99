-- Schema version 3: events on the identity graph, and segments with their members and the
-- log of membership changes activation jobs read.

-- Events, idempotent by id. `ts` is the timestamp in UTC in a fixed-width form, so text
-- order is time order; `body` is the event as received (timestamp with its own offset,
-- channel, source, identifiers with their originals, properties) as JSON.
CREATE TABLE events (
    event_id    TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    channel     TEXT,
    ts          TEXT NOT NULL,
    body        TEXT NOT NULL,
    received_at TEXT NOT NULL
) WITHOUT ROWID;

-- Event-carries-identifier edges: an event attaches to identifier nodes (kind, value),
-- the same nodes records carry, so a profile's journey is one join away.
CREATE TABLE event_identifiers (
    kind     TEXT NOT NULL,
    value    TEXT NOT NULL,
    event_id TEXT NOT NULL REFERENCES events (event_id),
    PRIMARY KEY (kind, value, event_id)
) WITHOUT ROWID;
CREATE INDEX event_identifiers_by_event ON event_identifiers (event_id);

-- Segment definitions (JSON documents as validated by the domain).
CREATE TABLE segments (
    name       TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;

-- Current members of each segment.
CREATE TABLE segment_members (
    segment    TEXT NOT NULL REFERENCES segments (name),
    profile_id TEXT NOT NULL,
    PRIMARY KEY (segment, profile_id)
) WITHOUT ROWID;
CREATE INDEX segment_members_by_profile ON segment_members (profile_id);

-- Every membership change; seq orders all changes of the store and is never reused, so
-- an activation job's cursor (the last seq it saw) sees each later change exactly once.
CREATE TABLE segment_changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    segment     TEXT NOT NULL REFERENCES segments (name),
    profile_id  TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('entered', 'exited')),
    at          TEXT NOT NULL,
    merged_into TEXT
);
CREATE INDEX segment_changes_by_segment ON segment_changes (segment, seq);
