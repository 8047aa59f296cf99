-- Links between records.
-- Parameters named ids, keys, refs and names are JSON arrays unpacked by json_each.

-- name: links_of
SELECT a, b, type, matcher, weight, CASE WHEN :evidence THEN evidence END
  FROM links
  WHERE a IN (SELECT value FROM json_each(:ids))
  UNION SELECT a, b, type, matcher, weight, CASE WHEN :evidence THEN evidence END
  FROM links
  WHERE b IN (SELECT value FROM json_each(:ids))
  ORDER BY a, b, type, matcher;

-- name: links_scan
-- Keyset pages of the links of some types (a JSON array), without their evidence.
SELECT a, b, type, matcher, weight
  FROM links
  WHERE (a, b, type, matcher) > (?, ?, ?, ?)
  AND type IN (SELECT value FROM json_each(?))
  ORDER BY a, b, type, matcher
  LIMIT ?;

-- name: links_of_type
SELECT a, b, type, matcher, weight, evidence
  FROM links
  WHERE type = ?
  AND (a, b) > (?, ?)
  ORDER BY a, b, matcher
  LIMIT ?;

-- name: put_link
INSERT INTO links (a, b, type, matcher, weight, evidence)
  VALUES (?, ?, ?, ?, ?, ?)
  ON CONFLICT (a, b, type, matcher)
  DO UPDATE SET weight = excluded.weight, evidence = excluded.evidence;

-- name: delete_matcher_links
DELETE
  FROM links
  WHERE matcher = :matcher
  AND (a IN (SELECT value FROM json_each(:ids)) OR b IN (SELECT value FROM json_each(:ids)));

-- name: delete_link
DELETE
  FROM links
  WHERE a = ?
  AND b = ?
  AND type = ?;
