"""The storage ports: one small interface per area of the identity graph.

A backend implements each port over one shared connection, and :class:`~identity.store.base.Store`
gathers them: ``store.records``, ``store.profiles``, ``store.links``, ``store.matching``,
``store.events``, ``store.segments``, ``store.audit``, ``store.sources``, ``store.meta``, and
``store.copy`` for ``idgraph migrate`` alone. Inside ``with store.unit_of_work() as uow:``
every port's writes commit together or not at all (see :class:`~identity.store.base.Store`).

Every method is batched: it takes or returns collections, never one row per call, so that
a backend with network round trips (Neo4j) is not called once per record.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from identity.model import (
    AuditEntry,
    DeadLetter,
    DestinationRow,
    DestinationState,
    EncodedLink,
    Event,
    EventQuery,
    EventWrite,
    Identifier,
    IdentifierFlag,
    IdentifierKey,
    JSONValue,
    Link,
    LinkType,
    MatchRow,
    MembershipChange,
    ProfileChangeRecord,
    ProfileChanges,
    ProfileId,
    ProfileRow,
    ProfileViewRow,
    RecordId,
    RecordRef,
    RecordWrite,
    SegmentChange,
    SegmentRow,
    SourceRecord,
    StoredAuditEntry,
    StoredProfile,
    StoredRecord,
    Suppression,
    ViewColumn,
)


class SourcePort(ABC):
    """Registered source mappings, by source name."""

    @abstractmethod
    def put(self, name: str, mapping: dict[str, JSONValue]) -> None:
        """Register or replace a source's mapping document (as validated by the domain)."""

    @abstractmethod
    def get(self, name: str) -> dict[str, JSONValue] | None: ...

    @abstractmethod
    def get_many(self, names: Collection[str]) -> dict[str, dict[str, JSONValue]]:
        """The registered mappings of several sources in one read; unknown names are
        absent."""

    @abstractmethod
    def names(self) -> list[str]:
        """Names of registered sources, sorted."""


class MetaPort(ABC):
    """Small JSON documents by key (the trained match model lives here)."""

    @abstractmethod
    def get(self, key: str) -> JSONValue | None:
        """A small JSON document by key (e.g. the trained match model), or None."""

    @abstractmethod
    def set(self, key: str, value: JSONValue) -> None: ...

    @abstractmethod
    def names(self) -> list[str]:
        """Keys of the stored metadata documents, sorted."""


class RecordPort(ABC):
    """Records, the identifiers they carry (the graph's record-has-identifier edges) and
    the flags on identifiers that do not link."""

    @abstractmethod
    def upsert(self, records: Sequence[SourceRecord], now: datetime) -> list[RecordWrite]:
        """Insert new records and replace existing ones with the same (source, key).

        Returns one :class:`RecordWrite` per input, in input order. A re-sent record that is
        identical (identifiers, attributes, timestamp, raw) is reported ``changed=False``
        and not rewritten. ``removed_identifiers`` lists identifier keys the record held
        before and no longer holds. Records keep their ``record_id`` and profile across
        updates. Duplicate refs in one call: the last one wins.
        """

    @abstractmethod
    def get(self, record_ids: Collection[RecordId]) -> dict[RecordId, StoredRecord]:
        """Records by id; unknown ids are absent from the result."""

    @abstractmethod
    def attributes_of(
        self, record_ids: Collection[RecordId], names: Collection[str]
    ) -> dict[RecordId, dict[str, JSONValue]]:
        """The attributes called ``names`` that each record holds (a record holding none
        maps to {}; unknown ids are absent): what the resolver compares, without reading
        and decoding whole records."""

    @abstractmethod
    def ids(self, refs: Collection[RecordRef]) -> dict[RecordRef, RecordId]:
        """Ids of the records with these refs; unknown refs are absent."""

    @abstractmethod
    def refs(self, record_ids: Collection[RecordId]) -> dict[RecordId, RecordRef]:
        """Refs of the records with these ids; unknown ids are absent."""

    @abstractmethod
    def scan(self, batch_size: int = 10_000) -> Iterator[StoredRecord]:
        """Every record with its profile and times, by ascending id, fetched in batches."""

    @abstractmethod
    def scan_profiles(
        self, batch_size: int = 10_000
    ) -> Iterator[tuple[RecordRef, ProfileId | None]]:
        """Every record's ref and profile id, ordered by (source, key), fetched in batches."""

    @abstractmethod
    def identifiers_of(self, record_ids: Collection[RecordId]) -> dict[RecordId, list[Identifier]]:
        """The identifiers each record carries (records without any map to [])."""

    @abstractmethod
    def identifier_counts(self, keys: Collection[IdentifierKey]) -> dict[IdentifierKey, int]:
        """How many records carry each identifier; unknown keys map to 0."""

    @abstractmethod
    def with_identifiers(
        self, keys: Collection[IdentifierKey]
    ) -> dict[IdentifierKey, list[RecordId]]:
        """Ids of the records carrying each identifier, ascending; unknown keys map to []."""

    @abstractmethod
    def identifiers_shared(self, kind: str, more_than: int) -> dict[IdentifierKey, int]:
        """Identifiers of ``kind`` carried by more than ``more_than`` records, with their
        record counts: those a changed cardinality cap may start or stop linking. Reads
        every identifier of the kind (a rule change's census, not a request path)."""

    @abstractmethod
    def identifiers_valued(self, values: Collection[str]) -> dict[IdentifierKey, int]:
        """Identifiers of any kind whose value, trimmed and lower-cased (ASCII), is one of
        ``values``, with their record counts: those a changed ``any`` blocklist entry
        names. Reads every identifier (a rule change's census, not a request path)."""

    @abstractmethod
    def holding_kinds(self, kinds: Collection[str]) -> list[RecordId]:
        """Ids of the records carrying an identifier of one of ``kinds``, ascending: those
        a changed kind rule may re-resolve."""

    @abstractmethod
    def put_flags(
        self, flags: Sequence[IdentifierFlag], cleared: Collection[IdentifierKey] = ()
    ) -> None:
        """Record identifiers that do not link and why (replacing earlier flags for the same
        key), and clear the flags of ``cleared`` keys that link again."""

    @abstractmethod
    def flags(self, limit: int = 1000) -> list[IdentifierFlag]:
        """Flagged identifiers, most-shared first, then by key."""


class MatchIndexPort(ABC):
    """The match index: per record, the fields the probabilistic matcher compares and
    its blocking keys, so that a record arriving alone finds its candidates without a scan."""

    @abstractmethod
    def put_rows(self, rows: Sequence[MatchRow]) -> None:
        """Insert or replace the match-index entries of these records (their fields and all
        their blocking keys: keys a record no longer has stop finding it)."""

    @abstractmethod
    def rows_with_keys(self, keys: Collection[str]) -> list[MatchRow]:
        """Entries of the records holding any of ``keys``, each once, by record id."""

    @abstractmethod
    def rows_of(self, record_ids: Collection[RecordId]) -> list[MatchRow]:
        """Entries of these records, each once, by record id; records without an entry
        (or unknown ids) are left out."""

    @abstractmethod
    def key_counts(self, keys: Collection[str]) -> dict[str, int]:
        """How many records hold each blocking key; unknown keys count 0. Lets a caller
        leave out keys over ``max_block_size`` before reading their records."""

    @abstractmethod
    def scan_rows(self, batch_size: int = 10_000) -> Iterator[list[MatchRow]]:
        """Every entry of the match index, by record id, in batches."""

    @abstractmethod
    def clear(self) -> None:
        """Empty the match index (before rebuilding it for new matching settings)."""


class LinkPort(ABC):
    """Record-to-record links of every type (matches, must-links, cannot-links, reviews)."""

    @abstractmethod
    def of(
        self,
        record_ids: Collection[RecordId],
        types: Collection[LinkType] | None = None,
        evidence: bool = True,
    ) -> list[Link]:
        """Links with at least one end in ``record_ids`` (of the given types, or all),
        ordered by (a, b, type, matcher); with ``evidence=False`` their evidence comes
        back empty (clustering needs only the ends, and evidence is the bulk of a link)."""

    @abstractmethod
    def scan(self, types: Collection[LinkType], batch_size: int = 50_000) -> Iterator[list[Link]]:
        """Every link of ``types``, without its evidence (empty), in pages of about
        ``batch_size`` links (or of the links of ``batch_size`` records), each link once,
        ordered by (a, b, type, matcher): ``idgraph link`` compares its new links with the
        stored ones, and reading them by record (:meth:`of`, a slice of ids at a time)
        found every link twice, through a lookup per id."""

    @abstractmethod
    def of_type(
        self, type: LinkType, after: tuple[RecordId, RecordId] | None = None, limit: int = 100
    ) -> list[Link]:
        """Up to ``limit`` links of one type with (a, b) above ``after``, ordered by
        (a, b, matcher): the review queue, page by page."""

    @abstractmethod
    def put(self, links: Sequence[Link]) -> None:
        """Insert links, replacing any with the same (a, b, type, matcher)."""

    @abstractmethod
    def replace(
        self, record_ids: Collection[RecordId], matcher: str, links: Sequence[Link]
    ) -> None:
        """Delete every link made by ``matcher`` touching ``record_ids``, then insert ``links``.

        How a matcher re-states its view of a part of the graph after re-resolving it.
        """

    @abstractmethod
    def replace_encoded(
        self, record_ids: Collection[RecordId], matcher: str, links: Sequence[EncodedLink]
    ) -> None:
        """:meth:`replace` with links whose evidence is already encoded (all ``matcher``'s):
        ``idgraph link`` rewrites hundreds of thousands of links, and building a
        :class:`Link` and encoding its evidence for each was much of its time. The stored
        links are the ones :meth:`replace` stores for the same links decoded."""

    @abstractmethod
    def delete(
        self, pairs: Collection[tuple[RecordId, RecordId]], types: Collection[LinkType]
    ) -> int:
        """Delete links of the given types between the given (unordered) pairs; returns count."""

    @abstractmethod
    def of_type_by_weight(
        self,
        type: LinkType,
        after: tuple[float, RecordId, RecordId] | None = None,
        limit: int = 100,
        without: Collection[LinkType] = (),
    ) -> list[Link]:
        """Up to ``limit`` links of one type whose pair holds no link of a type in
        ``without``, ordered by weight descending, then (a, b, matcher) ascending, after
        the position ``after`` = (weight, a, b) (None: from the highest weight): the review
        queue by probability, page by page, one statement a page. A page is a keyset
        seek, so links written between two pages never make the reader skip or repeat
        one that stays. The pairs excluded by ``without`` are left out by the store,
        not by the caller, so a page is full whenever there are enough left."""

    @abstractmethod
    def count_of_type(self, type: LinkType, without: Collection[LinkType] = ()) -> int:
        """How many pairs (a, b) hold a link of ``type`` and none of a type in ``without``:
        the review queue's length, counted by the store in one statement."""


class ProfilePort(ABC):
    """Profiles with their redirects, and the log of profile changes (created, merged,
    split, deleted) consuming systems read."""

    @abstractmethod
    def ids_of(self, record_ids: Collection[RecordId]) -> dict[RecordId, ProfileId]:
        """Current profile of each record; records without one (or unknown) are absent."""

    @abstractmethod
    def records_of(self, profile_ids: Collection[ProfileId]) -> dict[ProfileId, list[RecordId]]:
        """Record ids of each live profile, ascending; unknown or retired ids map to []."""

    @abstractmethod
    def get(self, profile_ids: Collection[ProfileId]) -> dict[ProfileId, ProfileRow]:
        """Live profiles by id (no redirect following); unknown or retired ids are absent."""

    @abstractmethod
    def resolve(self, profile_ids: Collection[ProfileId]) -> dict[ProfileId, ProfileId]:
        """Map each id to the live profile it is or was merged into (following redirects
        to the end); ids never issued, or deleted without a survivor, are absent."""

    @abstractmethod
    def with_identifiers(
        self, keys: Collection[IdentifierKey]
    ) -> dict[IdentifierKey, list[ProfileId]]:
        """Distinct live profiles holding a record with each identifier, sorted; unknown -> []."""

    @abstractmethod
    def apply(self, changes: ProfileChanges, now: datetime) -> None:
        """Apply a re-resolution's outcome atomically (see :class:`ProfileChanges`).

        Created profiles get ``created_at = updated_at = now`` (and ``split_from`` when
        the changes name one). A merged id stops being live, redirects to its survivor,
        and is listed in the survivor's ``merged_from`` together with every id that had
        been merged into it. Every created (or split), merged and deleted id is appended
        to the profile change log at ``now``, in that order, ids sorted within each kind.
        """

    @abstractmethod
    def changes(self, after: int = 0, limit: int = 1000) -> list[ProfileChangeRecord]:
        """Up to ``limit`` logged profile changes with ``seq > after``, by ``seq``."""

    @abstractmethod
    def scan_ids(self, batch_size: int = 10_000) -> Iterator[ProfileId]:
        """Every live profile id, ascending."""


class EventPort(ABC):
    """Events attached to the identifiers they carry, and the journeys they make."""

    @abstractmethod
    def put(self, events: Sequence[Event], now: datetime) -> list[EventWrite]:
        """Store events, each attached to the identifier nodes it carries; one
        :class:`EventWrite` per input, in input order.

        Idempotent by ``event_id``: an identical re-sent event is reported unchanged and not
        rewritten; a different one with the same id replaces it (identifiers included).
        Duplicate ids in one call: the last one wins.
        """

    @abstractmethod
    def journey(self, profile_id: ProfileId, query: EventQuery) -> list[Event]:
        """One page of the events carried by any identifier of the live profile's records,
        each once, filtered and ordered by (timestamp, event id) as ``query`` says.

        Identifiers flagged as not linking (blocklisted, over their cap) are left out: a
        junk e-mail would otherwise pull strangers' events into the journey.
        """

    @abstractmethod
    def journeys(
        self, profile_ids: Collection[ProfileId], query: EventQuery
    ) -> dict[ProfileId, list[Event]]:
        """Batched :meth:`journey`: each live profile's page as ``query`` says (the same
        filters, cursor and ``limit`` for each), in one round trip; profiles without any
        event, or not live, map to []."""

    @abstractmethod
    def of_profiles(
        self, profile_ids: Collection[ProfileId], since: datetime | None = None
    ) -> dict[ProfileId, list[Event]]:
        """Every event of each live profile (as :meth:`journey` finds them) at or after
        ``since``, oldest first by (timestamp, event id); profiles without any map to []."""

    @abstractmethod
    def profiles_of(self, event_ids: Collection[str]) -> dict[str, list[ProfileId]]:
        """The live profiles whose journeys hold each event, sorted; unknown ids map to []."""

    @abstractmethod
    def count(self) -> int:
        """How many events the store holds."""


class SegmentPort(ABC):
    """Segment definitions, their members, and the log of membership changes activation
    jobs read."""

    @abstractmethod
    def put(self, name: str, definition: dict[str, JSONValue], now: datetime) -> None:
        """Create a segment or replace its definition (``created_at`` is kept)."""

    @abstractmethod
    def get(self, names: Collection[str] | None = None) -> list[SegmentRow]:
        """The named segments (or all), sorted by name; unknown names are absent."""

    @abstractmethod
    def delete(self, name: str) -> bool:
        """Delete a segment with its members and change log; False if there was none."""

    @abstractmethod
    def members(
        self, name: str, after: ProfileId | None = None, limit: int = 1000
    ) -> list[ProfileId]:
        """Up to ``limit`` member profile ids above ``after``, ascending (keyset paging)."""

    @abstractmethod
    def sizes(self, names: Collection[str] | None = None) -> dict[str, int]:
        """Member counts of the named segments (or all); every existing segment named maps
        to its count, 0 included."""

    @abstractmethod
    def memberships_of(self, profile_ids: Collection[ProfileId]) -> dict[ProfileId, list[str]]:
        """Names of the segments each profile is a member of, sorted; every asked id maps
        to a list, [] when none."""

    @abstractmethod
    def apply_changes(self, changes: Sequence[MembershipChange], now: datetime) -> None:
        """Add (entered) or remove (exited) members and append each change to the log at
        ``now``, with ``seq`` ascending in input order and above every earlier change's.
        Changes apply in input order: the last one for a (segment, profile) decides."""

    @abstractmethod
    def changes(self, name: str, after: int = 0, limit: int = 1000) -> list[SegmentChange]:
        """Up to ``limit`` logged changes of a segment with ``seq > after``, by ``seq``."""

    @abstractmethod
    def last_change_seq(self) -> int:
        """The highest ``seq`` logged so far (0 before any): a cursor meaning "from now"."""


class ProfileViewPort(ABC):
    """The profile read model: one row per live profile (identity/profile_view.py keeps
    it equal to a recomputation from records and events, in each write's unit of work)."""

    @abstractmethod
    def put(self, rows: Sequence[ProfileViewRow]) -> None:
        """Insert or replace the rows of these profiles."""

    @abstractmethod
    def delete(self, profile_ids: Collection[ProfileId]) -> None:
        """Delete the rows of these profiles (unknown ids are ignored)."""

    @abstractmethod
    def get(self, profile_ids: Collection[ProfileId]) -> dict[ProfileId, ProfileViewRow]:
        """The rows of these profiles; ids without a row are absent."""

    @abstractmethod
    def scan_ids(self, batch_size: int = 10_000) -> Iterator[ProfileId]:
        """Every profile id that has a row, ascending, fetched in batches."""

    @abstractmethod
    def clear(self) -> int:
        """Delete every row; returns how many there were."""

    @abstractmethod
    def export_page(
        self,
        segment: str,
        columns: Sequence[ViewColumn],
        after: ProfileId | None = None,
        limit: int = 1000,
    ) -> list[tuple[ProfileId, tuple[JSONValue, ...] | None]]:
        """Up to ``limit`` members of a segment above ``after``, ascending, each with the
        values of ``columns`` read from its row, only those (None where the member has no
        row). A golden attribute's value comes as stored (absent: None), a linking column
        as its first value (or None), ``event_counts`` as a mapping, consent as True, False
        or None (no statement)."""


class AuditPort(ABC):
    """The audit log of steward actions."""

    @abstractmethod
    def append(self, entries: Sequence[AuditEntry], now: datetime) -> list[int]:
        """Log entries at ``now``; returns their ids, ascending in input order and above
        every earlier entry's."""

    @abstractmethod
    def entries(
        self,
        before: int | None = None,
        limit: int = 100,
        actor: str | None = None,
        action: str | None = None,
    ) -> list[StoredAuditEntry]:
        """Up to ``limit`` entries with id below ``before`` (all when None), newest first,
        optionally only one actor's or one action's."""

    @abstractmethod
    def get(self, ids: Collection[int]) -> dict[int, StoredAuditEntry]:
        """Entries by id; unknown ids are absent."""

    @abstractmethod
    def redact(self, entries: Sequence[StoredAuditEntry]) -> None:
        """Replace the target, before and after of logged entries by those given (their
        actor, action, reason, time and undo references stay): an erasure takes the
        erased records' keys out of earlier entries. Unknown ids are ignored."""


class PrivacyPort(ABC):
    """Deleting personal data for good (erasure, retention), and the suppression list that
    keeps an erased person from being rebuilt by the next load.

    A deletion leaves nothing of what it deletes readable in the store: no row, node,
    property or index entry, and (where the backend keeps freed pages in its files) no
    freed page holding it after :meth:`scrub`. Profiles are the caller's: it re-resolves
    the records left and deletes profiles left without any.
    """

    @abstractmethod
    def delete_records(self, record_ids: Collection[RecordId]) -> list[IdentifierKey]:
        """Delete records with their identifier edges, every link touching them (of any
        type), their match-index entries and blocking keys. Identifiers, flags and
        blocking keys nothing holds any more go too. Returns the identifier keys the
        deleted records carried, sorted; unknown ids are ignored."""

    @abstractmethod
    def delete_events(self, event_ids: Collection[str]) -> int:
        """Delete events with their identifier edges (identifiers nothing holds any more go
        too); returns how many there were. Unknown ids are ignored."""

    @abstractmethod
    def expired_records(self, source: str, before: datetime, limit: int = 1000) -> list[RecordId]:
        """Ids of up to ``limit`` records of ``source`` whose time (the record's own
        ``timestamp``, else when it was last changed here) is before ``before``,
        ascending."""

    @abstractmethod
    def expired_events(self, before: datetime, limit: int = 1000) -> list[str]:
        """Ids of up to ``limit`` events with a timestamp before ``before``, oldest first
        (by timestamp, then id)."""

    @abstractmethod
    def suppress(self, entries: Sequence[Suppression]) -> None:
        """Add entries to the suppression list; a hash already listed keeps its entry."""

    @abstractmethod
    def suppressed(self, hashes: Collection[str]) -> set[str]:
        """Which of ``hashes`` are on the suppression list."""

    @abstractmethod
    def unsuppress(self, hashes: Collection[str]) -> int:
        """Take hashes off the suppression list; returns how many were on it."""

    @abstractmethod
    def suppressions(self, after: str | None = None, limit: int = 1000) -> list[Suppression]:
        """Up to ``limit`` entries with a hash above ``after``, by hash (keyset paging)."""

    @abstractmethod
    def scrub(self) -> None:
        """Overwrite what deletions freed so no deleted value can be read back from the
        store's files (call after the unit of work that deleted, outside any)."""


class CopyPort(ABC):
    """Whole-store copies for ``idgraph migrate``: every row in id order, and imports that
    keep ids, times and redirects. Nothing else uses it."""

    @abstractmethod
    def profiles(self, batch_size: int = 10_000) -> Iterator[StoredProfile]:
        """Every profile id ever issued (live, merged with its redirect, deleted), by
        ascending id, fetched in batches."""

    @abstractmethod
    def identifier_flags(self, batch_size: int = 10_000) -> Iterator[IdentifierFlag]:
        """Every flagged identifier, by key (kind, value), fetched in batches."""

    @abstractmethod
    def links(self, batch_size: int = 10_000) -> Iterator[Link]:
        """Every link, ordered by (a, b, type, matcher), fetched in batches (of about
        ``batch_size`` links or of the links of ``batch_size`` records)."""

    @abstractmethod
    def events(self, batch_size: int = 10_000) -> Iterator[Event]:
        """Every event, by ascending event id, fetched in batches (for whole-store copies)."""

    @abstractmethod
    def segment_changes(self, batch_size: int = 10_000) -> Iterator[SegmentChange]:
        """Every logged change of every segment, by ``seq`` (for whole-store copies)."""

    @abstractmethod
    def import_records(self, records: Sequence[StoredRecord]) -> list[RecordId]:
        """Insert records copied from another store, keeping their ingest and update times
        and their profile; returns the ids this store gives them, in input order.

        Ids are this store's to assign (new ones, ascending in input order); the given
        ``record_id`` is ignored. Every profile named must already be here (import profiles
        first), and no ref may exist already: either refusal is a :class:`StoreError` and
        nothing of the call is written.
        """

    @abstractmethod
    def import_profiles(self, profiles: Sequence[StoredProfile]) -> None:
        """Write profiles copied from another store exactly as given: id, status, times,
        ``merged_from`` and redirect; an id already here is replaced. A redirect may name a
        profile that a later call imports (a copy arrives in batches)."""

    @abstractmethod
    def import_profile_changes(self, records: Sequence[ProfileChangeRecord]) -> None:
        """Append profile change records copied from another store keeping their ``seq``
        and time; later changes get seqs above them."""

    @abstractmethod
    def import_audit(self, entries: Sequence[StoredAuditEntry]) -> None:
        """Append entries copied from another store keeping their ids, times and undo
        references (``undone_by`` follows from the entries' ``undoes``); later entries
        get ids above them."""

    @abstractmethod
    def import_segment_changes(self, changes: Sequence[SegmentChange]) -> None:
        """Append changes copied from another store keeping their ``seq`` and time, and
        apply them to the members: replaying a segment's log gives its members. Each
        segment must exist here already (import definitions first)."""

    @abstractmethod
    def delete_everything(self) -> None:
        """Delete every record, identifier, link, profile (tombstones too), flag, source
        mapping, metadata document, event and segment (members and change log too).
        Record ids and change seqs are still never reused: new ones are above every one
        the store ever gave.

        For tests and for emptying the target of ``idgraph migrate --replace``; the service
        never calls it.
        """


class DestinationPort(ABC):
    """Destinations (identity/destinations/): their config, delivery state, lease and
    dead letters. Bodies are never stored; a dead letter is a range of the segment change
    log, so an erasure leaves nothing here to purge.

    Should the segment change log ever be trimmed, the trim must stop at the lowest
    ``cursor_seq`` of the destinations (and of the dead letters not yet replayed)."""

    @abstractmethod
    def add(self, row: DestinationRow, state: DestinationState) -> bool:
        """Register a destination with its first state; False (nothing written) when the
        name is taken."""

    @abstractmethod
    def get(self, names: Collection[str] | None = None) -> list[DestinationRow]:
        """Destinations by name (all when None), sorted by name."""

    @abstractmethod
    def remove(self, name: str) -> bool:
        """Delete a destination with its state and dead letters."""

    @abstractmethod
    def set_paused(self, name: str, paused: bool) -> bool:
        """False when there is no such destination."""

    @abstractmethod
    def states(self, names: Collection[str]) -> dict[str, DestinationState]:
        """The delivery state of each named destination (absent when unknown)."""

    @abstractmethod
    def lease(self, name: str, owner: str, now: datetime, until: datetime) -> bool:
        """Take or renew the destination's lease for ``owner`` until ``until``: granted
        when nobody holds it, ``owner`` does, or the holder's lease ended before ``now``.
        Atomic: of workers asking at once, one is granted."""

    @abstractmethod
    def release(self, name: str, owner: str) -> None:
        """Give the lease up if ``owner`` holds it."""

    @abstractmethod
    def save_state(self, state: DestinationState, owner: str | None) -> bool:
        """Write the state (all but the lease) if ``owner`` holds the lease (None: whoever
        does, for a steward's edit); False and nothing written otherwise."""

    @abstractmethod
    def stop_following(self, segment: str, reason: str, at: datetime) -> list[str]:
        """Stop every running destination of ``segment`` (``stopped = reason``, at ``at``),
        its pending retry cleared; returns their names, sorted."""

    @abstractmethod
    def add_dead_letter(self, letter: DeadLetter) -> int:
        """Append a dead letter (its ``id`` is ignored); returns the id given."""

    @abstractmethod
    def dead_letters(
        self, name: str, ids: Collection[int] | None = None, status: str | None = "dead"
    ) -> list[DeadLetter]:
        """A destination's dead letters by id (all when None) and status (any when
        None), oldest first."""

    @abstractmethod
    def update_dead_letter(self, letter: DeadLetter) -> None:
        """Write a dead letter's status, attempts and last error after a replay."""


class WeightBinCount(NamedTuple):
    """Links and undecided review pairs whose match weight ``w`` has
    ``floor(w / width) == bin``."""

    bin: int
    links: int
    reviews: int


class MatcherLinkCount(NamedTuple):
    matcher: str
    type: LinkType
    links: int


class QueueSizeSample(NamedTuple):
    """The review queue's size an audit entry recorded, at the entry's time."""

    entry_id: int
    at: datetime
    size: int


class FieldWarningCount(NamedTuple):
    """Ingest warnings of one source's field over the audited loads."""

    source: str
    field: str
    warnings: int
    loads: int
    """How many audited loads warned about the field at least once."""


class QualityPort(ABC):
    """Whole-graph aggregates for the steward console's quality page (identity/quality.py).

    Each method is one statement that the store aggregates (SQL GROUP BY, Cypher
    aggregation) and returns only counts: no link, profile or record is read into Python.
    They read the whole graph (or the whole audit log), so they cost seconds at a million
    records: fine for a page a steward opens, never for a per-request path.
    """

    REVIEW_QUEUE_KEY = "review_queue"
    """The key of the review queue's size in the ``after`` of the audit entries of actions
    that can change it (ingest, link, steward actions): the queue's history."""
    WARNINGS_BY_FIELD_KEY = "warnings_by_field"
    """The key of the per-field warning counts in the ``after`` of an ``ingest`` entry."""

    @abstractmethod
    def match_weight_bins(self, width: float) -> list[WeightBinCount]:
        """MATCH links and undecided REVIEW links (no MUST_LINK or CANNOT_LINK between the
        same records) whose evidence carries a numeric ``match_weight``, counted by
        ``floor(match_weight / width)``; only bins holding one, by ascending bin."""

    @abstractmethod
    def profile_sizes(self) -> dict[int, int]:
        """How many live profiles hold each number of records (sizes no profile has are
        absent), by ascending size."""

    @abstractmethod
    def links_by_matcher(self) -> list[MatcherLinkCount]:
        """Stored links per (matcher, type), most first, then by matcher and type."""

    @abstractmethod
    def review_queue_samples(self, last: int) -> list[QueueSizeSample]:
        """The queue sizes recorded under :attr:`REVIEW_QUEUE_KEY` in audit entries' ``after``,
        the ``last`` newest entries that hold one, oldest first."""

    @abstractmethod
    def ingest_warnings(self) -> list[FieldWarningCount]:
        """Warnings of ``ingest`` audit entries per source (the entry's target) and field,
        summed from :attr:`WARNINGS_BY_FIELD_KEY` of their ``after``; most warnings first,
        then by source and field."""


@dataclass(frozen=True, slots=True)
class HouseholdRow:
    """A household as stored (identity/households/): profiles related as living together.

    ``evidence`` is every (type, profile a, profile b) pair that joined two members, a < b,
    sorted; it names evidence kinds, never the shared values. ``since`` is when the id was
    first given (ISO 8601): the older id wins a tie when households meet."""

    id: str
    members: tuple[ProfileId, ...]
    evidence: tuple[tuple[str, ProfileId, ProfileId], ...]
    since: str


@dataclass(frozen=True, slots=True)
class HouseholdCorrection:
    """A steward's standing correction of households, applied by every rebuild: ``apart``
    (two profiles never in one household), ``together`` (two profiles in one) or ``alone``
    (one profile in none). One correction per kind and profiles: its :attr:`key`."""

    kind: str
    profiles: tuple[ProfileId, ...]
    actor: str
    reason: str
    at: str

    @property
    def key(self) -> str:
        return ":".join((self.kind, *self.profiles))


class HouseholdPort(ABC):
    """Households and the stewards' corrections of them (identity/households/)."""

    @abstractmethod
    def replace(self, households: Sequence[HouseholdRow]) -> None:
        """Replace every stored household with ``households`` (a rebuild's result): call in
        a unit of work, so readers see the old set or the new one, never a mix."""

    @abstractmethod
    def put(self, households: Sequence[HouseholdRow], removed: Collection[str] = ()) -> None:
        """Write ``households`` (new or changed, by id) and delete the ``removed`` ids: a
        correction's local change. A profile is a member of one household at most: the
        caller removes or rewrites its old household in the same call."""

    @abstractmethod
    def of_profiles(self, profile_ids: Collection[ProfileId]) -> dict[ProfileId, HouseholdRow]:
        """The household of each profile that has one (others absent)."""

    @abstractmethod
    def get(self, household_ids: Collection[str]) -> dict[str, HouseholdRow]:
        """Households by id; unknown ids are absent."""

    @abstractmethod
    def scan(self, batch_size: int = 10_000) -> Iterator[list[HouseholdRow]]:
        """Every household in batches, by id ascending (a keyset scan: exports, rebuilds)."""

    @abstractmethod
    def count(self) -> tuple[int, int]:
        """(households, member profiles) stored."""

    @abstractmethod
    def put_corrections(
        self, corrections: Sequence[HouseholdCorrection], removed: Collection[str] = ()
    ) -> None:
        """Store corrections (replacing those of the same key) and delete the ``removed``
        keys."""

    @abstractmethod
    def corrections(self) -> list[HouseholdCorrection]:
        """Every standing correction, by key."""
