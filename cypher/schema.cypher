// The Neo4j store's schema, version 8 (2 added the match index's blocking keys, 3 events
// and segments, 4 stewardship: the profile change log, the audit log, the review queue,
// 5 privacy: the suppression list, events by time for retention, 6 destinations and the
// profile read model, 7 the review queue by probability, 8 households):
// constraints and indexes, each created only if missing, so applying it at every start-up
// is safe. Statements end with ';' and are sent one at a time (schema changes cannot share
// a transaction with writes).

// Unique keys: a record by its store id and by (source, key); an identifier node by
// (kind, normalised value); a blocking key of the match index by its text; a profile by
// id; mappings, metadata, flags and sequences by name.
CREATE CONSTRAINT record_id IF NOT EXISTS
FOR (r:Record) REQUIRE r.id IS UNIQUE;

CREATE CONSTRAINT record_ref IF NOT EXISTS
FOR (r:Record) REQUIRE (r.source, r.key) IS UNIQUE;

CREATE CONSTRAINT identifier_key IF NOT EXISTS
FOR (i:Identifier) REQUIRE (i.kind, i.value) IS UNIQUE;

CREATE CONSTRAINT profile_id IF NOT EXISTS
FOR (p:Profile) REQUIRE p.id IS UNIQUE;

CREATE CONSTRAINT source_name IF NOT EXISTS
FOR (s:Source) REQUIRE s.name IS UNIQUE;

CREATE CONSTRAINT meta_key IF NOT EXISTS
FOR (m:Meta) REQUIRE m.key IS UNIQUE;

CREATE CONSTRAINT flagged_identifier_key IF NOT EXISTS
FOR (f:FlaggedIdentifier) REQUIRE (f.kind, f.value) IS UNIQUE;

CREATE CONSTRAINT blocking_key IF NOT EXISTS
FOR (k:BlockingKey) REQUIRE k.key IS UNIQUE;

CREATE CONSTRAINT sequence_name IF NOT EXISTS
FOR (s:Sequence) REQUIRE s.name IS UNIQUE;

CREATE CONSTRAINT schema_version_name IF NOT EXISTS
FOR (v:SchemaVersion) REQUIRE v.name IS UNIQUE;

// Events by id (idempotent writes, paging); segments by name; a profile is a member of a
// segment at most once; a change log seq is never given twice.
CREATE CONSTRAINT event_id IF NOT EXISTS
FOR (e:Event) REQUIRE e.event_id IS UNIQUE;

CREATE CONSTRAINT segment_name IF NOT EXISTS
FOR (s:Segment) REQUIRE s.name IS UNIQUE;

CREATE CONSTRAINT segment_member_key IF NOT EXISTS
FOR (m:SegmentMember) REQUIRE (m.segment, m.profile_id) IS UNIQUE;

CREATE CONSTRAINT segment_change_seq IF NOT EXISTS
FOR (c:SegmentChange) REQUIRE c.seq IS UNIQUE;

// Indexes for what lookups filter or sort on beyond the unique keys: live profiles
// (counts, paging) and the steward's view of flagged identifiers (most shared first).
CREATE INDEX profile_status IF NOT EXISTS
FOR (p:Profile) ON (p.status);

CREATE INDEX flagged_identifier_count IF NOT EXISTS
FOR (f:FlaggedIdentifier) ON (f.record_count);

// A segment's members and its change log are read by segment (paging, sizes, activation
// pulls, deletion), a profile's memberships by profile id.
CREATE INDEX segment_member_segment IF NOT EXISTS
FOR (m:SegmentMember) ON (m.segment);

CREATE INDEX segment_member_profile IF NOT EXISTS
FOR (m:SegmentMember) ON (m.profile_id);

CREATE INDEX segment_change_segment IF NOT EXISTS
FOR (c:SegmentChange) ON (c.segment, c.seq);

// Stewardship (version 4). A profile change log seq and an audit entry id are never given
// twice; an entry is undone at most once (a uniqueness constraint ignores the entries
// without `undoes`, and its index finds the undo of an entry).
CREATE CONSTRAINT profile_change_seq IF NOT EXISTS
FOR (c:ProfileChange) REQUIRE c.seq IS UNIQUE;

CREATE CONSTRAINT audit_entry_id IF NOT EXISTS
FOR (a:AuditEntry) REQUIRE a.id IS UNIQUE;

CREATE CONSTRAINT audit_entry_undoes IF NOT EXISTS
FOR (a:AuditEntry) REQUIRE a.undoes IS UNIQUE;

// The audit log filtered by actor or by action, newest first; the review queue: the
// links of one type.
CREATE INDEX audit_entry_actor IF NOT EXISTS
FOR (a:AuditEntry) ON (a.actor, a.id);

CREATE INDEX audit_entry_action IF NOT EXISTS
FOR (a:AuditEntry) ON (a.action, a.id);

CREATE INDEX link_type IF NOT EXISTS
FOR ()-[l:LINK]-() ON (l.type);

// Privacy (version 5): a suppression entry per salted hash; events by time, for the
// retention scan of the oldest.
CREATE CONSTRAINT suppression_hash IF NOT EXISTS
FOR (s:Suppression) REQUIRE s.hash IS UNIQUE;

CREATE INDEX event_ts IF NOT EXISTS
FOR (e:Event) ON (e.ts);

// Destinations (version 6): one node per destination holding its config and delivery
// state; dead letters by id, and a destination's.
CREATE CONSTRAINT destination_name IF NOT EXISTS
FOR (d:Destination) REQUIRE d.name IS UNIQUE;

CREATE CONSTRAINT destination_dead_letter_id IF NOT EXISTS
FOR (l:DestinationDeadLetter) REQUIRE l.id IS UNIQUE;

CREATE INDEX destination_dead_letter_destination IF NOT EXISTS
FOR (l:DestinationDeadLetter) ON (l.destination);

// The profile read model (version 6): one (:ProfileView) node per live profile, by id.
CREATE CONSTRAINT profile_view_id IF NOT EXISTS
FOR (v:ProfileView) REQUIRE v.profile_id IS UNIQUE;

// The review queue by probability (version 7): the links of one type by weight, sought
// from a page's last weight downwards instead of sorting every link of the type per page.
CREATE INDEX link_type_weight IF NOT EXISTS
FOR ()-[l:LINK]-() ON (l.type, l.weight);

// Households (version 8): a household by id, a profile's household by its member node
// (one at most), a household's member nodes by household id (rewriting it), and the
// stewards' standing corrections by key.
CREATE CONSTRAINT household_id IF NOT EXISTS
FOR (h:Household) REQUIRE h.id IS UNIQUE;

CREATE CONSTRAINT household_member_profile IF NOT EXISTS
FOR (m:HouseholdMember) REQUIRE m.profile_id IS UNIQUE;

CREATE INDEX household_member_household IF NOT EXISTS
FOR (m:HouseholdMember) ON (m.household_id);

CREATE CONSTRAINT household_correction_key IF NOT EXISTS
FOR (c:HouseholdCorrection) REQUIRE c.key IS UNIQUE;
