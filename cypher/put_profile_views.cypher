// Inserts or replaces rows of the profile read model, one (:ProfileView) node per live
// profile: documents as JSON text, trait facts as properties (a null time removes its
// property, read back as null). $rows: [{profile_id, golden, provenance, identifiers,
// linking, first_seen, last_seen, events, event_counts, orders, order_value, last_order,
// consent, computed_at}].
UNWIND $rows AS row
MERGE (v:ProfileView {profile_id: row.profile_id})
SET v.golden = row.golden,
    v.provenance = row.provenance,
    v.identifiers = row.identifiers,
    v.linking = row.linking,
    v.first_seen = row.first_seen,
    v.last_seen = row.last_seen,
    v.events = row.events,
    v.event_counts = row.event_counts,
    v.orders = row.orders,
    v.order_value = row.order_value,
    v.last_order = row.last_order,
    v.consent = row.consent,
    v.computed_at = row.computed_at
