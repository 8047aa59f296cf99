"""The nouns of identity resolution, as plain immutable values.

These are what the domain, the stores and the service pass between them; they carry
no behaviour that needs a database or the web.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

JSONValue = Any
"""A value that survives a JSON round trip (str, int, float, bool, None, list, dict)."""

RecordId = int
"""Store-assigned, stable for the lifetime of a record; never reused."""

ProfileId = str


class IdentifierKey(NamedTuple):
    """An identifier node's identity: its kind and normalised value."""

    kind: str
    value: str


class RecordRef(NamedTuple):
    """A record's identity as its source knows it. Re-sending the same ref updates it."""

    source: str
    key: str


@dataclass(frozen=True, slots=True)
class Identifier:
    """A normalised identifier a record carries, with the value as received for display."""

    kind: str
    value: str
    original: str

    @property
    def key(self) -> IdentifierKey:
        return IdentifierKey(self.kind, self.value)

    def __reduce__(self) -> tuple[type[Identifier], tuple[str, str, str]]:
        # Pickled as constructor arguments: a slotted dataclass's default pickling goes
        # through dataclasses.fields() per object, which bulk mapping workers pay per row.
        return (Identifier, (self.kind, self.value, self.original))


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One record as mapped from a source row.

    ``attributes`` holds mapped attributes under their canonical names and every unmapped
    field under its own name (schemaless). ``raw`` is the row exactly as received, so an
    identifier value that failed normalisation is never lost.
    """

    source: str
    key: str
    identifiers: tuple[Identifier, ...] = ()
    attributes: dict[str, JSONValue] = field(default_factory=dict)
    timestamp: datetime | None = None
    raw: dict[str, JSONValue] = field(default_factory=dict)

    @property
    def ref(self) -> RecordRef:
        return RecordRef(self.source, self.key)

    def __reduce__(self) -> tuple[type[SourceRecord], tuple[object, ...]]:
        # As Identifier's: bulk ingest's mapping workers send records back by pickle.
        return (
            SourceRecord,
            (self.source, self.key, self.identifiers, self.attributes, self.timestamp, self.raw),
        )


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A source record as the store holds it."""

    record_id: RecordId
    record: SourceRecord
    profile_id: ProfileId | None
    ingested_at: datetime
    updated_at: datetime

    @property
    def ref(self) -> RecordRef:
        return self.record.ref


@dataclass(frozen=True, slots=True)
class RecordWrite:
    """What an upsert did to one record; drives which part of the graph to re-resolve."""

    record_id: RecordId
    ref: RecordRef
    created: bool
    changed: bool
    removed_identifiers: tuple[IdentifierKey, ...] = ()


class LinkType(StrEnum):
    MATCH = "match"
    """An accepted matcher link: an edge profiles are built from."""
    REVIEW = "review"
    """A candidate between the review and link thresholds, waiting for a steward."""
    MUST_LINK = "must_link"
    """A steward's decision that two records are one person; matchers cannot undo it."""
    CANNOT_LINK = "cannot_link"
    """A steward's decision that two records are different people; every matcher respects it."""


DECISIONS = (LinkType.MUST_LINK, LinkType.CANNOT_LINK)
"""The link types of a steward's decision: a review pair holding one is decided."""


@dataclass(frozen=True, slots=True)
class Link:
    """A record-to-record edge with who made it and why. ``a < b`` always."""

    a: RecordId
    b: RecordId
    type: LinkType
    matcher: str
    weight: float = 1.0
    evidence: dict[str, JSONValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.a == self.b:
            raise ValueError("a link joins two different records")
        if self.a > self.b:
            a, b = self.b, self.a
            object.__setattr__(self, "a", a)
            object.__setattr__(self, "b", b)


class EncodedLink(NamedTuple):
    """One matcher's link with its evidence already JSON text, as the stores keep it
    (compact, non-ASCII as is: ``identity.store.changes.dumps``). ``idgraph link`` writes
    hundreds of thousands of links a run; handing them over encoded saves a
    :class:`Link` and its evidence dictionaries per link, and the evidence is encoded
    once however many times it is written. ``a < b``, as in a :class:`Link`."""

    a: RecordId
    b: RecordId
    type: LinkType
    weight: float
    evidence: str


class IdentifierFlagReason(StrEnum):
    BLOCKLISTED = "blocklisted"
    OVER_CAP = "over_cardinality_cap"


@dataclass(frozen=True, slots=True)
class IdentifierFlag:
    """An identifier value that does not link, and why; reported to stewards."""

    key: IdentifierKey
    reason: IdentifierFlagReason
    record_count: int


@dataclass(frozen=True, slots=True)
class ProfileRow:
    """A profile as stored: its id and history. Its records are looked up separately."""

    id: ProfileId
    created_at: datetime
    updated_at: datetime
    merged_from: tuple[ProfileId, ...] = ()
    split_from: ProfileId | None = None
    """The profile this one was split off (None when it was created from new records)."""


@dataclass(slots=True)
class ProfileChanges:
    """The outcome of re-resolving part of the graph, applied by the store atomically.

    ``created`` profiles are inserted; ``assignments`` move records to profiles;
    ``merged`` maps each retired id to the survivor it now redirects to (and every id
    that redirected to the retired one follows); ``deleted`` ids lost all their records
    without being merged (kept as tombstones so they stay unknown rather than reused);
    ``touched`` profiles get ``updated_at = now``; ``split_from`` names, for created ids
    that took records of an existing profile, the profile they were split off. An id may
    be both created and merged: a part of a profile that joined another one, logged as a
    split and a merge (its id redirects to the profile the records joined).
    """

    created: list[ProfileId] = field(default_factory=list)
    assignments: dict[RecordId, ProfileId] = field(default_factory=dict)
    merged: dict[ProfileId, ProfileId] = field(default_factory=dict)
    deleted: list[ProfileId] = field(default_factory=list)
    touched: set[ProfileId] = field(default_factory=set)
    split_from: dict[ProfileId, ProfileId] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (self.created or self.assignments or self.merged or self.deleted)


class ProfileStatus(StrEnum):
    LIVE = "live"
    MERGED = "merged"
    """Merged into another profile; the id keeps resolving through its redirect."""
    DELETED = "deleted"
    """Lost all its records without a survivor; kept so the id is never reissued."""


@dataclass(frozen=True, slots=True)
class StoredProfile:
    """A profile id as the store keeps it, whatever its status: what a whole-store copy
    carries. ``redirect_to`` is the survivor a merged id resolves to; ``merged_from`` the
    ids a live profile absorbed."""

    id: ProfileId
    status: ProfileStatus
    created_at: datetime
    updated_at: datetime
    merged_from: tuple[ProfileId, ...] = ()
    redirect_to: ProfileId | None = None
    split_from: ProfileId | None = None


class ProfileChangeKind(StrEnum):
    CREATED = "created"
    MERGED = "merged"
    """The profile was merged into ``related`` (the survivor); its id redirects there."""
    SPLIT = "split"
    """A new profile split off ``related``."""
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class ProfileChangeRecord:
    """One logged change of a profile id, for consuming systems; ``seq`` orders every
    change of the store, so a consumer's cursor is the last ``seq`` it has seen."""

    seq: int
    kind: ProfileChangeKind
    profile_id: ProfileId
    at: datetime
    related: ProfileId | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what, when, why, with the state before and after (JSON documents).
    ``undoes`` names the entry an undo reverses."""

    actor: str
    action: str
    target: str | None = None
    reason: str | None = None
    before: dict[str, JSONValue] = field(default_factory=dict)
    after: dict[str, JSONValue] = field(default_factory=dict)
    undoes: int | None = None


@dataclass(frozen=True, slots=True)
class StoredAuditEntry:
    """An audit entry as logged: its id (ascending in time) and, if reversed, the id of
    the undo that reversed it."""

    id: int
    at: datetime
    entry: AuditEntry
    undone_by: int | None = None


@dataclass(frozen=True, slots=True)
class Provenance:
    """Which record gave a golden-record value."""

    source: str
    record_key: str
    timestamp: datetime | None


@dataclass(frozen=True, slots=True)
class GoldenAttribute:
    """One attribute of a profile's golden record, the rule that chose it and where it came from."""

    name: str
    value: JSONValue
    provenance: Provenance
    rule: str
    candidates: int


@dataclass(frozen=True, slots=True)
class ProfileIdentifier:
    """An identifier of a profile, with the records that carry it and whether it links."""

    kind: str
    value: str
    originals: tuple[str, ...]
    record_count: int
    links: bool


@dataclass(frozen=True, slots=True)
class Profile:
    """A resolved customer: the records that are one person and their golden record."""

    id: ProfileId
    created_at: datetime
    updated_at: datetime
    merged_from: tuple[ProfileId, ...]
    records: tuple[StoredRecord, ...]
    attributes: tuple[GoldenAttribute, ...]
    identifiers: tuple[ProfileIdentifier, ...]
    split_from: ProfileId | None = None


@dataclass(frozen=True, slots=True)
class MatchRow:
    """A record's entry in the match index: the values the probabilistic matcher compares
    (normalised, by field) and the blocking keys that make it a candidate for others."""

    record_id: RecordId
    fields: dict[str, str | None]
    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Suppression:
    """An entry of the suppression list: the salted hash of an erased identifier (or of
    an erased record's source and key), which ingest drops on sight so an erasure stays
    erased. Neither the value nor anything it could be recovered from is kept."""

    hash: str
    kind: str
    """The identifier kind hashed (``email``, ``phone``...), or ``record`` for a record's
    (source, key): what a steward listing the entries can know without the value."""
    at: datetime
    audit_id: int | None = None
    """The audit entry of the erasure that added it."""


@dataclass(frozen=True, slots=True)
class Event:
    """Something a person did, with the identifiers it was seen with.

    ``timestamp`` is timezone-aware and kept with the offset it was sent with;
    ``properties`` are kept exactly as received (schemaless: order value, sku, url, ...).
    """

    event_id: str
    type: str
    timestamp: datetime
    identifiers: tuple[Identifier, ...]
    channel: str | None = None
    source: str | None = None
    properties: dict[str, JSONValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EventWrite:
    """What storing one event did: re-sending an identical event changes nothing."""

    event_id: str
    created: bool
    changed: bool


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Which of a profile's events to read, in which order, from where.

    ``after`` is the (timestamp, event id) of the last event of the previous page: events
    are ordered by timestamp, then event id, so equal timestamps keep a stable order.
    ``since`` is inclusive, ``until`` exclusive.
    """

    types: tuple[str, ...] | None = None
    channels: tuple[str, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None
    newest_first: bool = True
    after: tuple[datetime, str] | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class SegmentRow:
    """A segment as stored: its name and its definition document (validated by the domain)."""

    name: str
    definition: dict[str, JSONValue]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ProfileViewRow:
    """A live profile's row of the read model (identity/profile_view.py) in plain JSON
    values, as both stores keep it: the golden record, identifiers, trait facts and
    current consent, recomputed whenever a write changes the profile."""

    profile_id: ProfileId
    golden: dict[str, JSONValue]
    """Attribute name -> chosen value, in the golden record's order."""
    provenance: dict[str, list[JSONValue]]
    """Attribute name -> [source, record key, timestamp or None, rule, candidates]."""
    identifiers: list[list[JSONValue]]
    """[kind, value, originals, record count, links], in the profile's identifier order."""
    linking: dict[str, list[JSONValue]]
    """Kind -> the values of that kind that link, in identifier order (exports read [0])."""
    first_seen: str | None
    last_seen: str | None
    events: int
    event_counts: dict[str, int]
    orders: int
    order_value: float
    last_order: str | None
    consent: dict[str, dict[str, JSONValue]]
    """Purpose -> the statement in force: granted, at, source, via, reference."""
    computed_at: str
    """When the row was recomputed (diagnostics; never compared)."""


VIEW_PARTS = ("golden", "linking", "trait", "consent")


@dataclass(frozen=True, slots=True)
class ViewColumn:
    """One value an export reads from the read model: a golden attribute (``golden``),
    the first linking value of a kind (``linking``), a stored trait column (``trait``:
    first_seen, last_seen, events, event_counts, orders, order_value, last_order) or
    whether consent is granted for a purpose (``consent``)."""

    part: str
    name: str


class MembershipKind(StrEnum):
    ENTERED = "entered"
    EXITED = "exited"


@dataclass(frozen=True, slots=True)
class MembershipChange:
    """A profile entering or leaving a segment. An exit because the profile was merged
    away names the survivor in ``merged_into``."""

    segment: str
    profile_id: ProfileId
    kind: MembershipKind
    merged_into: ProfileId | None = None


@dataclass(frozen=True, slots=True)
class SegmentChange:
    """A membership change as recorded: ``seq`` orders every change of the store, so an
    activation job's cursor is the last ``seq`` it has seen."""

    seq: int
    segment: str
    profile_id: ProfileId
    kind: MembershipKind
    at: datetime
    merged_into: ProfileId | None = None


@dataclass(frozen=True, slots=True)
class StoreCounts:
    records: int
    identifiers: int
    profiles: int
    links: int


@dataclass(frozen=True, slots=True)
class StoreHealth:
    ok: bool
    backend: str
    detail: str


# -- destinations (push to webhooks and folders; identity/destinations/) ----------------------


@dataclass(frozen=True, slots=True)
class DestinationRow:
    """A registered destination as stored: its validated config document, its secret (a
    webhook's HMAC key, None when it is read from the environment) and whether it is paused."""

    name: str
    segment: str
    kind: str
    """``webhook`` or ``file``."""
    config: dict[str, JSONValue]
    secret: str | None
    paused: bool
    created_at: datetime
    created_by: str


SEGMENT_REMOVED = "segment_removed"
"""A destination's ``stopped`` reason once the segment it follows is deleted."""


@dataclass(frozen=True, slots=True)
class DestinationState:
    """Where a destination's delivery stands: the feed position acknowledged, the initial
    snapshot's progress, the pending batch's failures and the worker holding it."""

    name: str
    cursor_seq: int = 0
    """The last segment change seq the destination acknowledged."""
    snapshot_seq: int | None = None
    """The feed position of the initial snapshot (None: no snapshot, or not begun)."""
    snapshot_after: str | None = None
    """The member id the snapshot has reached ("" at its start; None when no snapshot is
    under way)."""
    attempts: int = 0
    """Consecutive failures of the pending batch."""
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    last_status: int | None = None
    delivered_batches: int = 0
    delivered_rows: int = 0
    last_delivered_at: datetime | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None
    stopped: str | None = None
    """Why the worker no longer tries (``segment_removed``), None while it delivers. A
    stopped destination starts again only when resumed (with a new snapshot)."""
    stopped_at: datetime | None = None
    """When it stopped (for ``segment_removed``: when the segment was deleted)."""
    snapshot_at: datetime | None = None
    """When the newest full snapshot was begun (recurring snapshots count from it)."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A batch that could not be delivered: its range, never its body (a replay rebuilds
    the rows). ``kind`` is ``changes`` (seqs ``from_seq`` exclusive to ``to_seq``
    inclusive) or ``snapshot`` (members after ``after_id`` up to ``last_id``, as of the
    snapshot at ``to_seq``)."""

    id: int
    destination: str
    kind: str
    from_seq: int
    to_seq: int
    after_id: str | None
    last_id: str | None
    status: str
    """``dead`` or ``replayed``."""
    attempts: int
    last_status: int | None
    last_error: str | None
    at: datetime
