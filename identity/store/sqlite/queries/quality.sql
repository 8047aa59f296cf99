-- Whole-graph aggregates of the quality page (identity/quality.py): counts only, each one
-- statement. Undecided review pairs are REVIEW links without a steward's MUST_LINK or
-- CANNOT_LINK between the same records (found through the links primary key).

-- name: match_weight_bins
-- Probabilistic links and undecided review pairs by floor(match_weight / :width), the
-- weight read from the evidence; floor by CAST (truncation) minus one below zero, as
-- SQLite's math functions are optional at compile time.
SELECT CAST(q AS INTEGER) - (q < CAST(q AS INTEGER)) AS bin, sum(type = 'match'), sum(type = 'review')
  FROM (
    SELECT l.type, w / :width AS q
      FROM (
        SELECT l.a, l.b, l.type, json_extract(l.evidence, '$.match_weight') AS w
          FROM links l
          WHERE l.type IN ('match', 'review')
          AND json_valid(l.evidence)
      ) l
      WHERE typeof(w) IN ('integer', 'real')
      AND (l.type = 'match' OR NOT EXISTS (SELECT 1 FROM links d WHERE d.a = l.a AND d.b = l.b AND d.type IN ('must_link', 'cannot_link')))
  )
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

-- name: review_queue_size
-- Through links_by_type (type, a, b), each pair's decisions through the primary key.
SELECT count(*)
  FROM links r
  WHERE r.type = 'review'
  AND NOT EXISTS (SELECT 1 FROM links d WHERE d.a = r.a AND d.b = r.b AND d.type IN ('must_link', 'cannot_link'));

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
