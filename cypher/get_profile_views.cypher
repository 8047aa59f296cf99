// The read-model rows of profiles by id; ids without a row give none. $ids: [profile id].
UNWIND $ids AS id
MATCH (v:ProfileView {profile_id: id})
USING INDEX SEEK v:ProfileView(profile_id)
RETURN v.profile_id AS profile_id, v.golden AS golden, v.provenance AS provenance, v.identifiers AS identifiers, v.linking AS linking, v.first_seen AS first_seen, v.last_seen AS last_seen, v.events AS events, v.event_counts AS event_counts, v.orders AS orders, v.order_value AS order_value, v.last_order AS last_order, v.consent AS consent, v.computed_at AS computed_at
