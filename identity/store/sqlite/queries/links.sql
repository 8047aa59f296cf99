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

-- name: links_of_type_by_weight
-- The review queue by probability: a keyset page of the links of one type, highest weight
-- first, then by (a, b, matcher), after the position (:weight, :a, :b) (weight +inf for the
-- first page), leaving out pairs that hold a link of a type in :without (a JSON array).
-- links_by_type_weight (type, weight DESC, a, b) is sought from the position and read in
-- order, so a page reads about :limit index entries, not every link of the type; each is
-- checked against the primary key (a, b, type) for a decision.
SELECT a, b, type, matcher, weight, evidence
  FROM links AS l
  WHERE type = :type
  AND weight <= :weight
  AND (weight < :weight OR (a, b) > (:a, :b))
  AND NOT EXISTS (
    SELECT 1
      FROM links AS d
      WHERE d.a = l.a
      AND d.b = l.b
      AND d.type IN (SELECT value FROM json_each(:without))
  )
  ORDER BY weight DESC, a, b, matcher
  LIMIT :limit;

-- name: count_of_type
-- How many pairs hold a link of :type and none of a type in :without (a JSON array): the
-- pairs of the type (links_by_type, in order), less those of them a link of :without
-- joins, found from the few decided pairs (json_each first, so each type is a seek of an
-- index on type), not by checking every pair of the queue.
SELECT (SELECT count(*) FROM (SELECT DISTINCT a, b FROM links WHERE type = :type))
  - (
    SELECT count(*)
      FROM (
        SELECT DISTINCT d.a, d.b
          FROM json_each(:without) AS w
          CROSS JOIN links AS d ON d.type = w.value
      ) AS d
      WHERE EXISTS (SELECT 1 FROM links AS l WHERE l.a = d.a AND l.b = d.b AND l.type = :type)
  );

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
