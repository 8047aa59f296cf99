-- The profile read model (ProfileViewPort). Parameters named ids are JSON arrays unpacked
-- by json_each. The export's page query is built from its column plan in
-- identity/store/sqlite/profile_view.py (the columns asked for are its SELECT list).

-- name: put_views
INSERT INTO profile_view (
    profile_id, golden, provenance, identifiers, linking, first_seen, last_seen, events,
    event_counts, orders, order_value, last_order, consent, computed_at
  )
  VALUES (
    :profile_id, :golden, :provenance, :identifiers, :linking, :first_seen, :last_seen, :events,
    :event_counts, :orders, :order_value, :last_order, :consent, :computed_at
  )
  ON CONFLICT (profile_id) DO UPDATE SET
    golden = excluded.golden,
    provenance = excluded.provenance,
    identifiers = excluded.identifiers,
    linking = excluded.linking,
    first_seen = excluded.first_seen,
    last_seen = excluded.last_seen,
    events = excluded.events,
    event_counts = excluded.event_counts,
    orders = excluded.orders,
    order_value = excluded.order_value,
    last_order = excluded.last_order,
    consent = excluded.consent,
    computed_at = excluded.computed_at;

-- name: delete_views
DELETE
  FROM profile_view
  WHERE profile_id IN (SELECT value FROM json_each(:ids));

-- name: get_views
SELECT profile_id, golden, provenance, identifiers, linking, first_seen, last_seen, events,
    event_counts, orders, order_value, last_order, consent, computed_at
  FROM profile_view
  WHERE profile_id IN (SELECT value FROM json_each(:ids));

-- name: view_ids_page
SELECT profile_id
  FROM profile_view
  WHERE profile_id > ?
  ORDER BY profile_id
  LIMIT ?;

-- name: clear_views
DELETE
  FROM profile_view;

-- name: export_page
-- A page of a segment's members with the values of the export's columns: {columns} is
-- the column plan's expressions (json paths on the row's documents, or columns), each
-- with its own positional parameter ahead of the segment's.
SELECT m.profile_id, v.profile_id IS NOT NULL{columns}
  FROM segment_members AS m
  LEFT JOIN profile_view AS v ON v.profile_id = m.profile_id
  WHERE m.segment = ?
  AND m.profile_id > ?
  ORDER BY m.profile_id
  LIMIT ?;
