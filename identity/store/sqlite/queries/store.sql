-- Lifecycle: counts and the health probe.

-- name: counts
SELECT (SELECT count(*) FROM records), (SELECT count(*) FROM (SELECT DISTINCT kind, value FROM record_identifiers)), (SELECT count(*) FROM profiles WHERE status = 'live'), (SELECT count(*) FROM links);

-- name: health
SELECT count(*)
  FROM sources;
