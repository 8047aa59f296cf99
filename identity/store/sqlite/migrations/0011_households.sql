-- Schema version 11: households (identity/households/), relationships between profiles.
-- A household row holds its members and evidence as JSON (read whole, never searched);
-- household_members finds a profile's household, one at most; the stewards' standing
-- corrections are applied by every rebuild.
CREATE TABLE households (
    id TEXT PRIMARY KEY,
    members TEXT NOT NULL,
    evidence TEXT NOT NULL,
    since TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE household_members (
    profile_id TEXT PRIMARY KEY,
    household_id TEXT NOT NULL REFERENCES households (id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE INDEX household_members_by_household ON household_members (household_id);

CREATE TABLE household_corrections (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    profiles TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
) WITHOUT ROWID;
