-- Schema version 2: the match index of the probabilistic matcher. Per record, the values
-- it compares (JSON object by field) and its blocking keys ("rule number:values"), so a
-- record arriving alone finds its candidates through one index range per key.
CREATE TABLE match_rows (
    record_id INTEGER PRIMARY KEY REFERENCES records (id),
    fields    TEXT NOT NULL,
    keys      TEXT NOT NULL
);

CREATE TABLE blocking_keys (
    key       TEXT NOT NULL,
    record_id INTEGER NOT NULL REFERENCES records (id),
    PRIMARY KEY (key, record_id)
) WITHOUT ROWID;
CREATE INDEX blocking_keys_by_record ON blocking_keys (record_id);
