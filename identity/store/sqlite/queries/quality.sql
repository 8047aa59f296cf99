-- Whole-graph aggregates of the quality page (identity/quality.py): counts only, each one
-- statement. Undecided review pairs are REVIEW links without a steward's MUST_LINK or
-- CANNOT_LINK between the same records (found through the links primary key).

-- name: match_weight_bins
-- Probabilistic links and undecided review pairs by floor(match_weight / :width). The
-- weight is the number after the evidence's first "match_weight": key, as the matcher
-- writes it first, read from the text as the Neo4j statement reads it (no JSON parse: a
-- third cheaper, and a weight Python wrote as Infinity or NaN, which SQLite before 3.42
-- refuses as malformed JSON, is left out instead of failing the statement). A full scan
-- (+type: through links_by_type every link would be looked up again by key, slower), each
-- review's decisions by the primary key. Materialised so that each expression is
-- computed once per link (a flattened subquery recomputed it per reference); floor by CAST
-- (truncation) minus one below zero, as SQLite's math functions are optional.
WITH weighed AS MATERIALIZED (
    SELECT l.a, l.b, l.type, substr(l.evidence, instr(l.evidence, '"match_weight":') + 15, 32) AS t
      FROM links l
      WHERE +l.type IN ('match', 'review')
      AND instr(l.evidence, '"match_weight":') > 0
  ), scaled AS MATERIALIZED (
    SELECT w.type, CAST(w.t AS REAL) / :width AS q
      FROM weighed w
      WHERE (w.t GLOB '[0-9]*' OR w.t GLOB '-[0-9]*')
      AND (w.type = 'match' OR NOT EXISTS (SELECT 1 FROM links d WHERE d.a = w.a AND d.b = w.b AND d.type IN ('must_link', 'cannot_link')))
  )
SELECT CAST(q AS INTEGER) - (q < CAST(q AS INTEGER)) AS bin, sum(type = 'match'), sum(type = 'review')
  FROM scaled
  GROUP BY bin
  ORDER BY bin;

-- name: profile_sizes
-- Records per live profile through records_by_profile, then profiles per size.
SELECT g.size, count(*)
  FROM (SELECT profile_id, count(*) AS size FROM records WHERE profile_id IS NOT NULL GROUP BY profile_id) g
  JOIN profiles p ON p.id = g.profile_id
  WHERE p.status = 'live'
  GROUP BY g.size
  ORDER BY g.size;

-- name: links_by_matcher
SELECT matcher, type, count(*) AS n
  FROM links
  GROUP BY matcher, type
  ORDER BY n DESC, matcher, type;

-- name: review_queue_samples
-- The newest :last audit entries whose after records the queue's size, read backwards
-- from the newest id.
SELECT id, at, size
  FROM (
    SELECT id, at, json_extract(after, '$.review_queue') AS size
      FROM audit_log
      WHERE json_valid(after)
  )
  WHERE typeof(size) = 'integer'
  ORDER BY id DESC
  LIMIT :last;

-- name: ingest_warnings
-- Per source (the entry's target) and field, summed over the ingest entries through
-- audit_log_by_action.
SELECT a.target, w.key, sum(w.value) AS warnings, count(*) AS loads
  FROM audit_log a, json_each(a.after, '$.warnings_by_field') w
  WHERE a.action = 'ingest'
  AND a.target IS NOT NULL
  AND json_valid(a.after)
  AND w.type = 'integer'
  AND w.value > 0
  GROUP BY a.target, w.key
  ORDER BY warnings DESC, a.target, w.key;
