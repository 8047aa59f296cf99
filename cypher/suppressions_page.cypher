// Up to $limit suppression entries with a hash above $after, by hash.
MATCH (s:Suppression)
WHERE s.hash > $after
RETURN s.hash AS hash, s.kind AS kind, s.at AS at, s.audit_id AS audit_id
ORDER BY hash
LIMIT $limit
