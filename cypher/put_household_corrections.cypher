// Inserts or replaces stewards' household corrections by key. $rows: [{key, kind,
// profiles: [profile id], actor, reason, at}].
UNWIND $rows AS row
MERGE (c:HouseholdCorrection {key: row.key})
SET c.kind = row.kind,
    c.profiles = row.profiles,
    c.actor = row.actor,
    c.reason = row.reason,
    c.at = row.at
