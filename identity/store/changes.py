"""What a store write changes, decided once for every backend: pure functions and small values.

The adapters (:mod:`identity.store.sqlite`, :mod:`identity.store.neo4j`) only translate these
decisions to SQL or Cypher: the record upsert diff, the folding of merges and redirects,
keyset paging, and the text encodings both stores keep byte-identical, down to the rows of
destinations and of the profile read model (so a store copied by ``idgraph migrate`` reads
back the same). Nothing here touches a database.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, TypeVar

from identity.errors import StoreError
from identity.model import (
    DeadLetter,
    DestinationRow,
    DestinationState,
    Event,
    Identifier,
    IdentifierKey,
    JSONValue,
    ProfileChangeKind,
    ProfileChanges,
    ProfileId,
    ProfileViewRow,
    RecordId,
    RecordRef,
    RecordWrite,
    SourceRecord,
)

K = TypeVar("K")
R = TypeVar("R")
T = TypeVar("T")

# -- encodings ----------------------------------------------------------------------------


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(value: JSONValue) -> str:
    """JSON as both stores keep it: compact, non-ASCII kept as is. One encoder for every
    call: ``json.dumps`` with options builds a new one each time, a quarter of its cost
    on the small documents records are made of."""
    return _ENCODER.encode(value)


def encode_stamp(value: datetime | None) -> str | None:
    """A timestamp as stored: ISO 8601 with the offset it came with."""
    return value.isoformat() if value is not None else None


def decode_stamp(value: str | None) -> datetime | None:
    """The timestamp :func:`encode_stamp` wrote."""
    return datetime.fromisoformat(value) if value is not None else None


def identifiers_json(identifiers: Sequence[Identifier]) -> str:
    """A record's identifiers as stored: ``[[kind, value, original], ...]`` in record order."""
    return dumps([[i.kind, i.value, i.original] for i in identifiers])


def load_identifiers(text: str) -> tuple[Identifier, ...]:
    """The identifiers :func:`identifiers_json` wrote."""
    return tuple(Identifier(kind, value, original) for kind, value, original in json.loads(text))


def identifier_keys(text: str) -> list[IdentifierKey]:
    """The keys of stored identifiers (:func:`identifiers_json`), in stored order."""
    return [IdentifierKey(kind, value) for kind, value, _ in json.loads(text)]


def utc_key(value: datetime) -> str:
    """A timestamp as fixed-width UTC text, whose text order is time order."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utc(value: datetime) -> datetime:
    """A timestamp as the UTC instant, so that times sent with different offsets order as
    instants."""
    return value.astimezone(UTC)


def unique(items: Iterable[T]) -> list[T]:
    """Items without repeats, in first-seen order: a key asked for twice is looked up once."""
    return list(dict.fromkeys(items))


def unique_keys(keys: Collection[IdentifierKey]) -> list[IdentifierKey]:
    """Identifier keys (or ``(kind, value)`` pairs) without repeats, in first-seen order."""
    return unique(IdentifierKey(*k) for k in keys)


def event_document(event: Event) -> str:
    """An event as the stores keep it, as JSON: as received, its timestamp with its own
    offset. Shared by the adapters, so an event copied between stores is the same text."""
    return dumps(
        {
            "type": event.type,
            "timestamp": event.timestamp.isoformat(),
            "channel": event.channel,
            "source": event.source,
            "identifiers": [[i.kind, i.value, i.original] for i in event.identifiers],
            "properties": event.properties,
        }
    )


def event_from_document(event_id: str, document: str) -> Event:
    """The event :func:`event_document` wrote."""
    doc = json.loads(document)
    return Event(
        event_id=event_id,
        type=doc["type"],
        timestamp=datetime.fromisoformat(doc["timestamp"]),
        identifiers=tuple(Identifier(k, v, o) for k, v, o in doc["identifiers"]),
        channel=doc["channel"],
        source=doc["source"],
        properties=doc["properties"],
    )


def utc_stamp(value: datetime | None) -> str | None:
    """A timestamp as stored where SQL or Cypher compares it (a destination's lease, its
    delivery times, a dead letter's time): ISO 8601 text of the UTC instant, which orders
    as time."""
    return utc(value).isoformat() if value is not None else None


# -- destinations -------------------------------------------------------------------------
# A row is stored under its model's field names, in field order: the parameters and rows of
# a store by column (SQLite, whose SELECT lists follow this order) or property (Neo4j).


def _field_names(model: type[Any]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(model))


DESTINATION_FIELDS = _field_names(DestinationRow)
DESTINATION_STATE_FIELDS = _field_names(DestinationState)
DEAD_LETTER_FIELDS = _field_names(DeadLetter)


def destination_params(row: DestinationRow) -> dict[str, Any]:
    """A destination's stored config (:data:`DESTINATION_FIELDS`)."""
    return {
        "name": row.name,
        "segment": row.segment,
        "kind": row.kind,
        "config": dumps(row.config),
        "secret": row.secret,
        "paused": row.paused,
        "created_at": utc_stamp(row.created_at),
        "created_by": row.created_by,
    }


def destination_from(values: Mapping[str, Any]) -> DestinationRow:
    """The destination :func:`destination_params` wrote."""
    return DestinationRow(
        values["name"],
        values["segment"],
        values["kind"],
        json.loads(values["config"]),
        values["secret"],
        bool(values["paused"]),
        datetime.fromisoformat(values["created_at"]),
        values["created_by"],
    )


def destination_start_params(state: DestinationState) -> dict[str, Any]:
    """Where a new destination's delivery starts (stored with it by :meth:`DestinationPort.add`)."""
    return {
        "cursor_seq": state.cursor_seq,
        "snapshot_seq": state.snapshot_seq,
        "snapshot_after": state.snapshot_after,
    }


def destination_state_params(state: DestinationState) -> dict[str, Any]:
    """A destination's delivery state as saved (its lease is not: the lease statements
    set it)."""
    return {
        **destination_start_params(state),
        "attempts": state.attempts,
        "next_attempt_at": utc_stamp(state.next_attempt_at),
        "last_error": state.last_error,
        "last_status": state.last_status,
        "delivered_batches": state.delivered_batches,
        "delivered_rows": state.delivered_rows,
        "last_delivered_at": utc_stamp(state.last_delivered_at),
        "stopped": state.stopped,
        "stopped_at": utc_stamp(state.stopped_at),
        "snapshot_at": utc_stamp(state.snapshot_at),
    }


def destination_state_from(values: Mapping[str, Any]) -> DestinationState:
    """A stored delivery state with its lease (:data:`DESTINATION_STATE_FIELDS`)."""
    return DestinationState(
        values["name"],
        int(values["cursor_seq"]),
        values["snapshot_seq"],
        values["snapshot_after"],
        int(values["attempts"]),
        decode_stamp(values["next_attempt_at"]),
        values["last_error"],
        values["last_status"],
        int(values["delivered_batches"]),
        int(values["delivered_rows"]),
        decode_stamp(values["last_delivered_at"]),
        values["lease_owner"],
        decode_stamp(values["lease_until"]),
        values["stopped"],
        decode_stamp(values["stopped_at"]),
        decode_stamp(values["snapshot_at"]),
    )


def dead_letter_params(letter: DeadLetter) -> dict[str, Any]:
    """A new dead letter as stored, without its id (the store allocates it)."""
    return {
        "destination": letter.destination,
        "kind": letter.kind,
        "from_seq": letter.from_seq,
        "to_seq": letter.to_seq,
        "after_id": letter.after_id,
        "last_id": letter.last_id,
        **_dead_letter_outcome(letter),
    }


def dead_letter_update_params(letter: DeadLetter) -> dict[str, Any]:
    """What a retry changes in a stored dead letter, keyed by its id."""
    return {"id": letter.id, **_dead_letter_outcome(letter)}


def _dead_letter_outcome(letter: DeadLetter) -> dict[str, Any]:
    return {
        "status": letter.status,
        "attempts": letter.attempts,
        "last_status": letter.last_status,
        "last_error": letter.last_error,
        "at": utc_stamp(letter.at),
    }


def dead_letter_from(values: Mapping[str, Any]) -> DeadLetter:
    """A stored dead letter (:data:`DEAD_LETTER_FIELDS`)."""
    return DeadLetter(
        int(values["id"]),
        values["destination"],
        values["kind"],
        int(values["from_seq"]),
        int(values["to_seq"]),
        values["after_id"],
        values["last_id"],
        values["status"],
        int(values["attempts"]),
        values["last_status"],
        values["last_error"],
        datetime.fromisoformat(values["at"]),
    )


# -- the profile read model ---------------------------------------------------------------

PROFILE_VIEW_FIELDS = _field_names(ProfileViewRow)
"""A read-model row's columns (SQLite) or properties (Neo4j), in stored order."""


def profile_view_params(row: ProfileViewRow) -> dict[str, Any]:
    """A read-model row as stored: its documents as JSON text (:func:`dumps`)."""
    return {
        "profile_id": row.profile_id,
        "golden": dumps(row.golden),
        "provenance": dumps(row.provenance),
        "identifiers": dumps(row.identifiers),
        "linking": dumps(row.linking),
        "first_seen": row.first_seen,
        "last_seen": row.last_seen,
        "events": row.events,
        "event_counts": dumps(row.event_counts),
        "orders": row.orders,
        "order_value": row.order_value,
        "last_order": row.last_order,
        "consent": dumps(row.consent),
        "computed_at": row.computed_at,
    }


def profile_view_from(values: Mapping[str, Any]) -> ProfileViewRow:
    """The read-model row :func:`profile_view_params` wrote."""
    return ProfileViewRow(
        profile_id=values["profile_id"],
        golden=json.loads(values["golden"]),
        provenance=json.loads(values["provenance"]),
        identifiers=json.loads(values["identifiers"]),
        linking=json.loads(values["linking"]),
        first_seen=values["first_seen"],
        last_seen=values["last_seen"],
        events=values["events"],
        event_counts=json.loads(values["event_counts"]),
        orders=values["orders"],
        order_value=values["order_value"],
        last_order=values["last_order"],
        consent=json.loads(values["consent"]),
        computed_at=values["computed_at"],
    )


# -- records ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordColumns:
    """A record's stored text: what decides whether an upsert changes it."""

    identifiers: str
    attributes: str
    raw: str
    timestamp: str | None

    @classmethod
    def of(cls, record: SourceRecord) -> RecordColumns:
        return cls(
            identifiers_json(record.identifiers),
            dumps(record.attributes),
            dumps(record.raw),
            encode_stamp(record.timestamp),
        )


@dataclass(frozen=True)
class StoredColumns:
    """A stored record's id and text, as an upsert reads it before writing."""

    record_id: RecordId
    columns: RecordColumns


@dataclass(frozen=True)
class RecordOutcome:
    """What an upsert does to one incoming record, before new records have ids."""

    ref: RecordRef
    created: bool
    changed: bool
    removed_identifiers: tuple[IdentifierKey, ...] = ()


@dataclass
class RecordDiff:
    """What an upsert writes, by ref: new records (their first version in the call, in the
    order they first appear, the order they get ids in), records changed after they were
    stored or first seen (their last version; new records included), the identifier edges
    to remove and add, and per incoming record what happened to it.

    A store that inserts each new record as it meets it (SQLite's autoincrement) writes
    :attr:`created` then :attr:`updated`; one that allocates ids first (Neo4j) writes
    :meth:`created_last` and :meth:`updated_existing`. Both end in the same rows."""

    created: dict[RecordRef, RecordColumns] = field(default_factory=dict)
    updated: dict[RecordRef, RecordColumns] = field(default_factory=dict)
    removed_edges: list[tuple[RecordRef, IdentifierKey]] = field(default_factory=list)
    added_edges: list[tuple[RecordRef, Identifier]] = field(default_factory=list)
    outcomes: list[RecordOutcome] = field(default_factory=list)
    existing_ids: dict[RecordRef, RecordId] = field(default_factory=dict)

    def created_last(self) -> dict[RecordRef, RecordColumns]:
        """New records in first-seen order, each as its last version in the call."""
        return {ref: self.updated.get(ref, first) for ref, first in self.created.items()}

    def updated_existing(self) -> dict[RecordRef, RecordColumns]:
        """Records stored before the call that it changed, as their last version."""
        return {ref: c for ref, c in self.updated.items() if ref not in self.created}

    def ids(self, new_ids: Mapping[RecordRef, RecordId]) -> dict[RecordRef, RecordId]:
        """Every ref's id: the stored ones and ``new_ids`` for :attr:`created`."""
        return {**self.existing_ids, **new_ids}

    def writes(self, new_ids: Mapping[RecordRef, RecordId]) -> list[RecordWrite]:
        """The upsert's answer, one per incoming record, once new records have ids."""
        ids = self.ids(new_ids)
        return [
            RecordWrite(
                ids[o.ref],
                o.ref,
                created=o.created,
                changed=o.changed,
                removed_identifiers=o.removed_identifiers,
            )
            for o in self.outcomes
        ]


def diff_records(
    existing: Mapping[RecordRef, StoredColumns], records: Sequence[SourceRecord]
) -> RecordDiff:
    """Which incoming records are new, changed or unchanged against what is stored, and
    which identifier edges move. A ref may appear more than once: each version is compared
    with the one before it, and edges go once per record from its state before the call to
    its last version in the call."""
    diff = RecordDiff(existing_ids={ref: s.record_id for ref, s in existing.items()})
    state: dict[RecordRef, RecordColumns] = {ref: s.columns for ref, s in existing.items()}
    initial: dict[RecordRef, set[IdentifierKey]] = {}
    final: dict[RecordRef, tuple[Identifier, ...]] = {}
    for record in records:
        ref = record.ref
        new = RecordColumns.of(record)
        before = state.get(ref)
        if before is None:
            diff.created[ref] = new
            initial[ref] = set()
            final[ref] = record.identifiers
            diff.outcomes.append(RecordOutcome(ref, created=True, changed=True))
            state[ref] = new
            continue
        if before == new:
            diff.outcomes.append(RecordOutcome(ref, created=False, changed=False))
            continue
        old_keys = identifier_keys(before.identifiers)
        new_keys = {i.key for i in record.identifiers}
        gone = tuple(k for k in old_keys if k not in new_keys)
        initial.setdefault(ref, set(old_keys))
        final[ref] = record.identifiers
        diff.updated[ref] = new
        diff.outcomes.append(
            RecordOutcome(ref, created=False, changed=True, removed_identifiers=gone)
        )
        state[ref] = new
    for ref, identifiers in final.items():
        keep = {i.key for i in identifiers}
        diff.removed_edges.extend((ref, k) for k in sorted(initial[ref] - keep))
        diff.added_edges.extend((ref, i) for i in identifiers)
    return diff


# -- profiles -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MergeFold:
    """A batch of merges folded into the profile state it leaves.

    ``steps`` are the merges in the order they apply (retired id order); ``histories``
    the ``merged_from`` of every profile whose history changed (retired ones emptied,
    survivors sorted); ``redirects`` every id whose redirect moved, to its final survivor;
    ``touched`` the profiles whose row (status, history, ``updated_at``) is rewritten."""

    steps: tuple[tuple[ProfileId, ProfileId], ...]
    histories: dict[ProfileId, list[ProfileId]]
    redirects: dict[ProfileId, ProfileId]
    touched: frozenset[ProfileId]

    @property
    def survivors(self) -> dict[ProfileId, list[ProfileId]]:
        """Each survivor's final history, in survivor order."""
        return {
            pid: self.histories[pid] for pid in sorted({survivor for _, survivor in self.steps})
        }

    @property
    def changed(self) -> list[ProfileId]:
        """Every profile id whose row the batch rewrites, in id order."""
        return sorted(self.touched | set(self.redirects))


def fold_merges(
    merged: Mapping[ProfileId, ProfileId],
    histories: Mapping[ProfileId, Sequence[ProfileId]],
    redirects: Mapping[ProfileId, ProfileId | None] | None = None,
) -> MergeFold:
    """Apply merges (retired id -> survivor) in retired id order: each retired id redirects
    to its survivor and takes along every id that redirected to it, so a retired id always
    points at the final survivor; then each survivor's history gains the ids it absorbed
    and their histories. ``histories`` holds the ``merged_from`` of every known profile
    involved; ``redirects`` the current redirect of every id that may follow one of them."""
    history = {pid: list(ids) for pid, ids in histories.items()}
    redirect: dict[ProfileId, ProfileId | None] = dict(redirects or {})
    moved: dict[ProfileId, ProfileId] = {}
    touched: set[ProfileId] = set()
    absorbed: dict[ProfileId, set[ProfileId]] = {}
    steps = tuple(sorted(merged.items()))
    for retired, survivor in steps:
        if retired not in history:
            raise StoreError(f"cannot merge unknown profile {retired}")
        gained = absorbed.setdefault(survivor, set())
        gained.add(retired)
        gained.update(history[retired])
        history[retired] = []
        redirect[retired] = moved[retired] = survivor
        touched.add(retired)
        for pid, target in redirect.items():
            if target == retired:
                redirect[pid] = moved[pid] = survivor
    for survivor, gained in sorted(absorbed.items()):
        if survivor not in history:
            raise StoreError(f"cannot merge into unknown profile {survivor}")
        history[survivor] = sorted(gained | set(history[survivor]))
        touched.add(survivor)
    return MergeFold(
        steps=steps,
        histories={pid: history[pid] for pid in sorted(touched)},
        redirects=moved,
        touched=frozenset(touched),
    )


def change_log_rows(
    changes: ProfileChanges,
) -> list[tuple[ProfileChangeKind, ProfileId, ProfileId | None]]:
    """What :meth:`ProfilePort.apply` appends to the profile change log, in
    order: (kind, profile id, related id). Shared by the adapters so they cannot drift."""
    rows: list[tuple[ProfileChangeKind, ProfileId, ProfileId | None]] = []
    for pid in sorted(changes.created):
        origin = changes.split_from.get(pid)
        kind = ProfileChangeKind.SPLIT if origin else ProfileChangeKind.CREATED
        rows.append((kind, pid, origin))
    rows.extend(
        (ProfileChangeKind.MERGED, pid, survivor)
        for pid, survivor in sorted(changes.merged.items())
    )
    rows.extend((ProfileChangeKind.DELETED, pid, None) for pid in sorted(changes.deleted))
    return rows


# -- paging -------------------------------------------------------------------------------


def keyset_pages(
    fetch_page: Callable[[K], Sequence[R]],
    key_of: Callable[[R], K],
    start: K,
    batch_size: int,
    *,
    until_empty: bool = False,
) -> Iterator[Sequence[R]]:
    """Pages of rows in key order, each fetched after the last key of the one before.

    Stops after a page shorter than ``batch_size`` or, with ``until_empty``, only at an
    empty page (one fetch more, for callers whose page size may differ from the rows they
    get). Never yields an empty page."""
    after = start
    while True:
        rows = fetch_page(after)
        if not rows:
            return
        yield rows
        if not until_empty and len(rows) < batch_size:
            return
        after = key_of(rows[-1])


def view_document_values(part: str, document: Mapping[str, Any], names: Sequence[str]) -> list[Any]:
    """The export values of the columns ``names`` of one read-model document, as the
    port says: a golden attribute's value, a kind's first linking value, whether a
    purpose's consent is granted (None when the document lacks the name)."""
    if part == "linking":
        return [(v[0] if (v := document.get(n)) else None) for n in names]
    if part == "consent":
        return [None if (v := document.get(n)) is None else bool(v.get("granted")) for n in names]
    return [document.get(n) for n in names]
