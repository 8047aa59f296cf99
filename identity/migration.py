"""Copying a whole identity graph from one store into another (``idgraph migrate``).

How a user who outgrows the embedded store moves to Neo4j (or keeps an embedded copy of
a Neo4j graph): everything goes through the store interface, a batch at a time, so any
two backends can be source and target. Profile ids, times and history are copied as they
are; record ids are each store's own, so the target assigns new ones (ascending in the
source's order) and links are carried across by record ref (source, key). Events keep
their ids and identifiers, segments their definitions and times, the membership change
log and the profile change log their seqs, so activation jobs' and consumers' cursors stay
valid, and the audit log its entry ids, times and undo references.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import TypeVar

from identity.errors import IdgraphError
from identity.model import DestinationState, Link, MatchRow, StoreCounts
from identity.profile_view import NEW, STATE_KEY
from identity.store.base import Store

T = TypeVar("T")

DEFAULT_BATCH_SIZE = 5_000
"""Rows per read and per write: the ingest batch size, which both stores handle well."""

STAGES = (
    "sources and metadata",
    "profiles",
    "identifier flags",
    "records",
    "links",
    "match index",
    "events",
    "segment definitions",
    "segment changes",
    "profile changes",
    "audit log",
    "suppression list",
    "destinations",
    "profile read model",
    "households",
)
"""The order of the copy: records need their profiles, links their records, segment
changes their segments, undo entries of the audit log the entries they undo; the
suppression list names the erasures of the audit log that added it; destinations come
after the segment changes their cursors point into; the read model's rows are copied as
they are, so the target is as current as the source (or as stale); so are households, with
the stewards' corrections of them."""


class TargetNotEmpty(IdgraphError):
    """The target store holds data, which a copy would mix with the source's."""

    def __init__(self, held: str):
        self.held = held
        super().__init__(
            f"the target store is not empty ({held}): migrate into an empty store, or pass "
            "--replace to delete everything in the target first"
        )


class MigrationIncomplete(IdgraphError):
    """The target does not hold what the source holds (the source changed meanwhile)."""

    def __init__(self, problem: str):
        self.problem = problem
        super().__init__(
            f"{problem}: was the source written to during the copy? Stop writing to it and "
            "run the migration again with --replace"
        )


@dataclass(frozen=True, slots=True)
class MigrationProgress:
    """Where a copy is: ``done`` rows of ``stage`` (one of :data:`STAGES`) out of
    ``total`` (None where the source cannot say cheaply)."""

    stage: str
    done: int
    total: int | None


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """What was copied."""

    sources: int
    meta: int
    profiles: int
    identifier_flags: int
    records: int
    links: int
    match_rows: int
    events: int
    segments: int
    segment_changes: int
    profile_changes: int
    audit_entries: int
    counts: StoreCounts
    replaced: bool
    seconds: float
    suppressions: int = 0
    destinations: int = 0
    households: int = 0


def _describe(counts: StoreCounts) -> str:
    return (
        f"{counts.records:,} records, {counts.identifiers:,} identifiers, "
        f"{counts.profiles:,} live profiles, {counts.links:,} links"
    )


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def held_data(store: Store) -> str | None:
    """What the store holds, in a few words, or None when it is empty."""
    counts = store.counts()
    held = []
    if counts.records or counts.identifiers or counts.links or counts.profiles:
        held.append(_describe(counts))
    if not counts.profiles and next(store.copy.profiles(batch_size=1), None) is not None:
        held.append("retired profile ids")
    if sources := store.sources.names():
        held.append(f"{len(sources)} source mappings")
    # A new store's read-model marker says only that it is new.
    keys = [k for k in store.meta.names() if k != STATE_KEY or store.meta.get(k) != NEW]
    if keys:
        held.append(f"metadata {', '.join(keys)}")
    if next(store.copy.identifier_flags(batch_size=1), None) is not None:
        held.append("flagged identifiers")
    if events := store.events.count():
        held.append(f"{events:,} events")
    if segments := store.segments.get():
        held.append(f"segments {', '.join(s.name for s in segments)}")
    elif next(store.copy.segment_changes(batch_size=1), None) is not None:
        held.append("segment changes")
    if store.profiles.changes(limit=1):
        held.append("profile changes")
    if store.audit.entries(limit=1):
        held.append("audit entries")
    if store.privacy.suppressions(limit=1):
        held.append("a suppression list")
    if destinations := store.destinations.get():
        held.append(f"destinations {', '.join(d.name for d in destinations)}")
    return "; ".join(held) or None


def migrate_store(
    source: Store,
    target: Store,
    *,
    replace: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[MigrationProgress], None] | None = None,
) -> MigrationReport:
    """Copy everything ``source`` holds into ``target``, which must be empty unless
    ``replace`` (then everything in it is deleted first).

    Not one transaction: each batch commits on its own, so a copy that fails part way
    leaves a partial target, and running it again with ``replace`` starts over. The
    source must not be written to meanwhile; the totals are compared at the end and a
    difference is :class:`MigrationIncomplete`.

    Events are copied with :meth:`EventPort.put`, which stamps them as received now:
    the store interface does not expose when the source received them, so that time is
    not carried over. The change log's sequence continues in the target after the highest
    seq copied; a seq the source gave to a change it no longer holds (of a deleted segment)
    above that is not known to the target. The same holds for the profile change log and
    the audit log.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    started = time.perf_counter()
    held = held_data(target)
    if held is not None:
        if not replace:
            raise TargetNotEmpty(held)
        target.copy.delete_everything()

    def report(stage: str, done: int, total: int | None) -> None:
        if progress is not None:
            progress(MigrationProgress(stage, done, total))

    totals = source.counts()

    # Small documents: the source mappings and metadata (the trained match model).
    names = source.sources.names()
    keys = source.meta.names()
    with target.unit_of_work():
        for name in names:
            mapping = source.sources.get(name)
            if mapping is not None:
                target.sources.put(name, mapping)
        for key in keys:
            target.meta.set(key, source.meta.get(key))
        if STATE_KEY not in keys:
            # The source's read model is stale (built before it existed): so is the copy's.
            target.meta.set(STATE_KEY, "")
    report(STAGES[0], len(names) + len(keys), len(names) + len(keys))

    # Profiles before records, which name them; all of them, retired ids included, so
    # that old ids keep resolving and are never reissued.
    profiles = 0
    for profile_batch in _batches(source.copy.profiles(batch_size), batch_size):
        target.copy.import_profiles(profile_batch)
        profiles += len(profile_batch)
        report(STAGES[1], profiles, None)
    report(STAGES[1], profiles, profiles)

    flags = 0
    for flag_batch in _batches(source.copy.identifier_flags(batch_size), batch_size):
        target.records.put_flags(flag_batch)
        flags += len(flag_batch)
        report(STAGES[2], flags, None)
    report(STAGES[2], flags, flags)

    records = 0
    report(STAGES[3], 0, totals.records)
    for record_batch in _batches(source.records.scan(batch_size), batch_size):
        target.copy.import_records(record_batch)
        records += len(record_batch)
        report(STAGES[3], records, max(totals.records, records))

    links = 0
    report(STAGES[4], 0, totals.links)
    for link_batch in _batches(source.copy.links(batch_size), batch_size):
        target.links.put(_remapped(link_batch, source, target))
        links += len(link_batch)
        report(STAGES[4], links, max(totals.links, links))

    # The match index (compared values and blocking keys per record), so that real-time
    # matching finds candidates in the target at once, without a rebuild.
    indexed = 0
    report(STAGES[5], 0, totals.records)
    for rows in source.matching.scan_rows(batch_size):
        refs = source.records.refs([row.record_id for row in rows])
        ids = target.records.ids(set(refs.values()))
        target.matching.put_rows(
            [MatchRow(ids[refs[row.record_id]], row.fields, row.keys) for row in rows]
        )
        indexed += len(rows)
        report(STAGES[5], indexed, max(totals.records, indexed))

    # Events, each with the identifiers it carries; their received time is not part of
    # the interface, so the target's is the time of the copy.
    events = 0
    event_total = source.events.count()
    received = datetime.now(UTC)
    report(STAGES[6], 0, event_total)
    for event_batch in _batches(source.copy.events(batch_size), batch_size):
        target.events.put(event_batch, received)
        events += len(event_batch)
        report(STAGES[6], events, max(event_total, events))

    # Segment definitions before their change log, which names them.
    segments = source.segments.get()
    with target.unit_of_work():
        for segment in segments:
            target.segments.put(segment.name, segment.definition, segment.created_at)
            if segment.updated_at != segment.created_at:
                target.segments.put(segment.name, segment.definition, segment.updated_at)
    report(STAGES[7], len(segments), len(segments))

    # The change log with its seqs (activation jobs' cursors); replaying it gives the
    # members.
    changes = 0
    for change_batch in _batches(source.copy.segment_changes(batch_size), batch_size):
        target.copy.import_segment_changes(change_batch)
        changes += len(change_batch)
        report(STAGES[8], changes, None)
    report(STAGES[8], changes, changes)

    # The profile change log with its seqs (consuming systems' cursors).
    profile_changes = 0
    after = 0
    while page := source.profiles.changes(after, batch_size):
        target.copy.import_profile_changes(page)
        profile_changes += len(page)
        after = page[-1].seq
        report(STAGES[9], profile_changes, None)
        if len(page) < batch_size:
            break
    report(STAGES[9], profile_changes, profile_changes)

    audit_entries, newest = _copy_audit_log(source, target, batch_size, report)

    # The suppression list, so erased people stay erased in the target (its hashes are
    # salted with the store's secret, copied with the metadata).
    suppressions = 0
    last: str | None = None
    while entries := source.privacy.suppressions(last, batch_size):
        target.privacy.suppress(entries)
        suppressions += len(entries)
        last = entries[-1].hash
        report(STAGES[11], suppressions, None)
    report(STAGES[11], suppressions, suppressions)
    destinations = _copy_destinations(source, target)
    report(STAGES[12], destinations, destinations)

    views = 0
    for id_batch in _batches(source.views.scan_ids(batch_size), batch_size):
        target.views.put(list(source.views.get(id_batch).values()))
        views += len(id_batch)
        report(STAGES[13], views, None)
    report(STAGES[13], views, views)

    households = _copy_households(source, target, batch_size)
    report(STAGES[14], households, households)

    copied = target.counts()
    if copied != source.counts():
        raise MigrationIncomplete(
            f"the copy does not match its source (source {_describe(source.counts())}; "
            f"target {_describe(copied)})"
        )
    if (copied_events := target.events.count()) != (source_events := source.events.count()):
        raise MigrationIncomplete(
            f"the copy does not match its source (source {source_events:,} events; "
            f"target {copied_events:,} events)"
        )
    if source.profiles.changes(after, 1):
        raise MigrationIncomplete("the source logged profile changes after the copy of its log")
    if _newest_audit_id(source) != newest:
        raise MigrationIncomplete("the source logged audit entries after the copy of its log")
    return MigrationReport(
        sources=len(names),
        meta=len(keys),
        profiles=profiles,
        identifier_flags=flags,
        records=records,
        links=links,
        match_rows=indexed,
        events=events,
        segments=len(segments),
        segment_changes=changes,
        profile_changes=profile_changes,
        audit_entries=audit_entries,
        counts=copied,
        replaced=held is not None,
        seconds=time.perf_counter() - started,
        suppressions=suppressions,
        destinations=destinations,
        households=households,
    )


def _copy_destinations(source: Store, target: Store) -> int:
    """Destinations with their config, secret, delivery state and dead letters; a lease
    is not copied (no worker of the target holds one)."""
    rows = source.destinations.get()
    states = source.destinations.states([r.name for r in rows])
    for row in rows:
        state = states.get(row.name, DestinationState(row.name))
        with target.unit_of_work():
            target.destinations.add(row, state)
            target.destinations.save_state(state, None)
            for letter in source.destinations.dead_letters(row.name, status=None):
                target.destinations.add_dead_letter(letter)
    return len(rows)


def _copy_households(source: Store, target: Store, batch_size: int) -> int:
    """Households as they are (their members are profile ids, which the copy keeps) and
    the stewards' corrections, which every later rebuild applies: one write each."""
    households = [h for page in source.households.scan(batch_size) for h in page]
    with target.unit_of_work():
        target.households.put_corrections(source.households.corrections())
        target.households.replace(households)
    return len(households)


def _newest_audit_id(store: Store) -> int | None:
    newest = store.audit.entries(limit=1)
    return newest[0].id if newest else None


def _copy_audit_log(
    source: Store, target: Store, batch_size: int, report: Callable[[str, int, int | None], None]
) -> tuple[int, int | None]:
    """Copy the audit log a page at a time, oldest page first; returns how many entries
    were copied and the newest one's id.

    The log reads newest first, but an undo entry may only be imported once the entry it
    undoes is there (the embedded store holds that as a foreign key), so a first pass
    finds where each page starts and a second copies the pages in reverse: two reads of
    the log, and memory of one id per page rather than of the whole log.
    """
    stage = STAGES[10]
    starts: list[int | None] = [None]
    total = 0
    newest: int | None = None
    while page := source.audit.entries(before=starts[-1], limit=batch_size):
        total += len(page)
        newest = page[0].id if newest is None else newest
        if len(page) < batch_size:
            break
        starts.append(page[-1].id)
    copied = 0
    report(stage, 0, total)
    for start in reversed(starts):
        entries = source.audit.entries(before=start, limit=batch_size)
        if not entries:
            continue
        target.copy.import_audit(entries)
        copied += len(entries)
        report(stage, copied, max(total, copied))
    return copied, newest


def _remapped(links: list[Link], source: Store, target: Store) -> list[Link]:
    """The links with the target's record ids, found by ref: two batched lookups per
    batch, so the copy's memory does not grow with the store."""
    refs = source.records.refs({rid for link in links for rid in (link.a, link.b)})
    ids = target.records.ids(set(refs.values()))
    remapped = []
    for link in links:
        try:
            a, b = ids[refs[link.a]], ids[refs[link.b]]
        except KeyError as error:
            raise MigrationIncomplete(
                f"a {link.type.value} link of {link.matcher} joins records {link.a} and "
                f"{link.b} of the source, one of which was not copied"
            ) from error
        remapped.append(Link(a, b, link.type, link.matcher, link.weight, link.evidence))
    return remapped
