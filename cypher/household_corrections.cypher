// Every standing household correction, by key (a few, applied by each rebuild).
MATCH (c:HouseholdCorrection)
RETURN c.kind AS kind, c.profiles AS profiles, c.actor AS actor, c.reason AS reason, c.at AS at
ORDER BY c.key
