"""The profile read model: each live profile's golden record, identifiers, trait facts and
current consent, materialised in the store so that segments, exports and GraphQL read one
row instead of every record and event of the profile.

A row is recomputed in full (never by delta arithmetic: merges, splits, erasures and
events re-sent under their id would make that wrong) in the unit of work of every write
that changes its profile; see :mod:`identity.derived` for who calls :meth:`refresh`.
What moves with the clock (recency) is computed at read from stored times, so a row never
goes stale by itself. A row depends on some of the rules (survivorship, events, kinds):
their fingerprint is kept with the view, and while it differs (an upgrade, an edited
rules file) the view is *stale*: reads recompute from records and events, correct but
slow, until ``idgraph profiles rebuild``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from identity.consent import ConsentStatement, current_consent, statements
from identity.journeys import TraitFacts, trait_facts
from identity.model import (
    Event,
    GoldenAttribute,
    JSONValue,
    Profile,
    ProfileId,
    ProfileIdentifier,
    ProfileRow,
    ProfileViewRow,
    Provenance,
    StoredRecord,
)
from identity.profiles import ProfileService
from identity.resolution import utc_now
from identity.rules import Rules
from identity.store.base import Store
from identity.store.changes import encode_stamp

VIEW_FORMAT = 1
"""Bumped when what a row holds changes: every store's view is then stale until rebuilt."""
STATE_KEY = "profile_view"
"""Meta key: the fingerprint the view was built with; ``"new"`` for a store created with
the view (empty, so complete); absent or anything else: stale."""
NEW = "new"
BATCH = 500
"""Profiles per transaction of a rebuild or check."""
ACTIVITY_COLUMNS = (
    "first_seen",
    "last_seen",
    "events",
    "event_counts",
    "orders",
    "order_value",
    "last_order",
    "consent",
    "computed_at",
)
"""The columns of a row that events change: what :meth:`ProfileViewService.refresh_activity`
recomputes (the golden record and identifiers stay as stored)."""


class RowWorkers(Protocol):
    """Computes rows of batches of profiles in other processes
    (identity/profile_view_workers.py ViewWorkers)."""

    def rows(
        self, batches: Iterable[list[ProfileId]], now: datetime
    ) -> Iterator[tuple[list[ProfileId], list[ProfileViewRow]]]: ...


REFRESH_BATCH = 5_000
"""Profiles recomputed per read inside a write: an ingest batch's worth (5,000 records),
so that a batch costs the store a fixed number of statements."""


@dataclass(frozen=True, slots=True)
class ProfileView:
    """One profile as the read model holds it."""

    profile_id: ProfileId
    attributes: tuple[GoldenAttribute, ...]
    identifiers: tuple[ProfileIdentifier, ...]
    traits: TraitFacts
    consent: dict[str, ConsentStatement] = field(default_factory=dict)

    def to_row(self, computed_at: datetime) -> ProfileViewRow:
        linking: dict[str, list[JSONValue]] = {}
        for ident in self.identifiers:
            if ident.links:
                linking.setdefault(ident.kind, []).append(ident.value)
        traits = self.traits
        return ProfileViewRow(
            profile_id=self.profile_id,
            golden={a.name: a.value for a in self.attributes},
            provenance={
                a.name: [
                    a.provenance.source,
                    a.provenance.record_key,
                    encode_stamp(a.provenance.timestamp),
                    a.rule,
                    a.candidates,
                ]
                for a in self.attributes
            },
            identifiers=[
                [i.kind, i.value, list(i.originals), i.record_count, i.links]
                for i in self.identifiers
            ],
            linking=linking,
            first_seen=encode_stamp(traits.first_seen),
            last_seen=encode_stamp(traits.last_seen),
            events=sum(traits.event_counts.values()),
            event_counts=dict(traits.event_counts),
            orders=traits.orders,
            order_value=traits.order_value,
            last_order=encode_stamp(traits.last_order),
            consent={
                purpose: {
                    "granted": s.granted,
                    "at": s.at.isoformat(),
                    "source": s.source,
                    "via": s.via,
                    "reference": s.reference,
                }
                for purpose, s in sorted(self.consent.items())
            },
            computed_at=computed_at.isoformat(),
        )

    @classmethod
    def from_row(cls, row: ProfileViewRow) -> ProfileView:
        attributes = []
        for name, value in row.golden.items():
            source, key, stamp, rule, candidates = row.provenance[name]
            attributes.append(
                GoldenAttribute(
                    name,
                    value,
                    Provenance(str(source), str(key), _stamp(stamp)),
                    str(rule),
                    int(candidates),
                )
            )
        identifiers = tuple(
            ProfileIdentifier(
                str(kind),
                str(value),
                tuple(str(o) for o in originals),
                int(count),
                bool(links),
            )
            for kind, value, originals, count, links in row.identifiers
        )
        consent = {
            purpose: ConsentStatement(
                purpose,
                bool(s["granted"]),
                datetime.fromisoformat(str(s["at"])),
                None if s["source"] is None else str(s["source"]),
                str(s["via"]),
                str(s["reference"]),
            )
            for purpose, s in row.consent.items()
        }
        return cls(
            profile_id=row.profile_id,
            attributes=tuple(attributes),
            identifiers=identifiers,
            traits=TraitFacts(
                first_seen=_stamp(row.first_seen),
                last_seen=_stamp(row.last_seen),
                event_counts=dict(row.event_counts),
                orders=row.orders,
                order_value=row.order_value,
                last_order=_stamp(row.last_order),
            ),
            consent=consent,
        )


def profile(row: ProfileRow, view: ProfileView | None) -> Profile:
    """A live profile from its row and its read model (records not read: empty)."""
    return Profile(
        id=row.id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        merged_from=row.merged_from,
        records=(),
        attributes=view.attributes if view else (),
        identifiers=view.identifiers if view else (),
        split_from=row.split_from,
    )


def _stamp(value: JSONValue) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def fingerprint(rules: Rules) -> str:
    """What of the rules a row depends on, hashed: survivorship, the event rules behind
    traits and consent, and whether each kind links and ranks (blocklist, caps)."""
    document = {
        "format": VIEW_FORMAT,
        "survivorship": {
            "default": list(rules.survivorship.default),
            "attributes": {k: list(v) for k, v in sorted(rules.survivorship.attributes.items())},
        },
        "events": {
            "order_types": list(rules.events.order_types),
            "order_value": rules.events.order_value,
            "consent_type": rules.events.consent_type,
            "purposes": list(rules.events.purposes),
        },
        "kinds": {
            name: [rule.links, rule.priority, rule.cardinality_cap]
            for name, rule in sorted(rules.kinds.items())
        },
        "blocklist": {kind: sorted(values) for kind, values in sorted(rules.blocklist.items())},
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class RebuildReport:
    profiles: int = 0
    written: int = 0
    deleted: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, JSONValue]:
        return {
            "profiles": self.profiles,
            "written": self.written,
            "deleted": self.deleted,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True, slots=True)
class Difference:
    """A stored row that differs from its recomputation (``idgraph profiles rebuild
    --check-only``): the column, and each side's value (None: no row)."""

    profile_id: ProfileId
    column: str
    stored: JSONValue
    recomputed: JSONValue


class ProfileViewService:
    """Keeps the read model equal to a recomputation, and reads it."""

    def __init__(
        self,
        store: Store,
        rules: Rules,
        profiles: ProfileService,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.rules = rules
        self.profiles = profiles
        self.clock = clock
        self.fingerprint = fingerprint(rules)
        self._fresh = False

    # -- state -------------------------------------------------------------------------------

    def fresh(self) -> bool:
        """Whether the stored view was built with these rules (else reads recompute).
        Once fresh, it stays so for this process: only a rules change makes it stale,
        and that needs a restart with the new rules."""
        if not self._fresh:
            state = self.store.meta.get(STATE_KEY)
            self._fresh = state == self.fingerprint or state == NEW
        return self._fresh

    def _claim_new(self) -> None:
        """A store created with the view holds the rules it is first written with."""
        if self.store.meta.get(STATE_KEY) == NEW:
            self.store.meta.set(STATE_KEY, self.fingerprint)

    # -- computing ---------------------------------------------------------------------------

    def recompute(self, profile_ids: Sequence[ProfileId]) -> dict[ProfileId, ProfileView]:
        """The rows of live profiles (others absent) computed from records and events:
        the truth the stored view must equal. Writes nothing."""
        with self.store.reading():
            found = self.profiles.get_many(profile_ids)
            live = {p.id: p for p in found if p is not None and p.id in profile_ids}
            events = self.store.events.of_profiles(list(live))
            sources = {r.record.source for p in live.values() for r in p.records}
            fields = self._consent_fields(sources)
        return {
            pid: ProfileView(
                pid,
                profile.attributes,
                profile.identifiers,
                *self._activity(profile.records, events.get(pid, []), fields),
            )
            for pid, profile in live.items()
        }

    def _activity(
        self,
        records: Sequence[StoredRecord],
        events: Sequence[Event],
        fields: Mapping[str, Mapping[str, str]],
    ) -> tuple[TraitFacts, dict[str, ConsentStatement]]:
        """A profile's trait facts and consent in force, from its records and events."""
        rules = self.rules.events
        consent = current_consent(statements(records, fields, events, rules))
        return trait_facts(events, records, rules), consent

    def _consent_fields(self, sources: set[str]) -> dict[str, Mapping[str, str]]:
        fields: dict[str, Mapping[str, str]] = {}
        for source, doc in self.store.sources.get_many(sources).items():
            consent = doc.get("consent")
            if isinstance(consent, dict):
                fields[source] = {str(k): str(v) for k, v in consent.items()}
        return fields

    # -- writing -----------------------------------------------------------------------------

    def refresh(self, profile_ids: Collection[ProfileId]) -> None:
        """Recompute and store the rows of these profiles; ids no longer live lose theirs.
        Call inside the unit of work of the write that changed them."""
        ordered = sorted(set(profile_ids))
        if not ordered:
            return
        with self.store.unit_of_work():
            self._claim_new()
            now = self.clock()
            for start in range(0, len(ordered), REFRESH_BATCH):
                batch = ordered[start : start + REFRESH_BATCH]
                views = self.recompute(batch)
                self.store.views.put([v.to_row(now) for v in views.values()])
                gone = [pid for pid in batch if pid not in views]
                self.store.views.delete(gone)

    def refresh_activity(self, profile_ids: Collection[ProfileId]) -> None:
        """Recompute the traits and consent of profiles whose events changed and whose
        records did not: their golden record and identifiers stay as stored, which saves
        the survivorship and identifier reads an event batch would otherwise repeat. A
        profile without a row is recomputed in full. Call inside the write's unit of work
        (a stitch record written there has already refreshed its profiles in full)."""
        ordered = sorted(set(profile_ids))
        if not ordered:
            return
        with self.store.unit_of_work():
            self._claim_new()
            now = self.clock()
            for start in range(0, len(ordered), REFRESH_BATCH):
                batch = ordered[start : start + REFRESH_BATCH]
                stored = self.store.views.get(batch)
                held = list(stored)
                records = self.profiles.records_of(held)
                events = self.store.events.of_profiles(held)
                sources = {r.record.source for found in records.values() for r in found}
                fields = self._consent_fields(sources)
                rows = []
                for pid, row in stored.items():
                    activity = self._activity(records.get(pid, []), events.get(pid, []), fields)
                    fresh = ProfileView(pid, (), (), *activity).to_row(now)
                    rows.append(replace(row, **{f: getattr(fresh, f) for f in ACTIVITY_COLUMNS}))
                self.store.views.put(rows)
                self.refresh([pid for pid in batch if pid not in stored])

    def forget(self, profile_ids: Collection[ProfileId]) -> None:
        """Drop the rows of profiles merged away or deleted."""
        self.store.views.delete(sorted(set(profile_ids)))

    def rebuild(
        self,
        batch_size: int = BATCH,
        progress: Callable[[int], None] | None = None,
        workers: RowWorkers | None = None,
    ) -> RebuildReport:
        """Recompute every live profile's row, drop rows of profiles no longer live, and
        mark the view built with these rules. Each batch is its own unit of work, so a
        write running meanwhile lands before a batch (and is recomputed) or after it (and
        writes its own row). ``progress`` gets the profiles done so far; ``workers``
        compute rows in other processes (identity/profile_view_workers.py)."""
        started = time.perf_counter()
        report = RebuildReport()
        batches = in_batches(self.store.profiles.scan_ids(batch_size=batch_size), batch_size)
        for batch, written in self.write_rows(batches, workers):
            report.profiles += len(batch)
            report.written += written
            if progress is not None:
                progress(report.profiles)
        for batch in in_batches(self.store.views.scan_ids(batch_size=batch_size), batch_size):
            with self.store.unit_of_work():
                live = self.store.profiles.get(batch)
                gone = [pid for pid in batch if pid not in live]
                self.store.views.delete(gone)
            report.deleted += len(gone)
        self.store.meta.set(STATE_KEY, self.fingerprint)
        self._fresh = True
        report.seconds = time.perf_counter() - started
        return report

    def write_rows(
        self, batches: Iterable[list[ProfileId]], workers: RowWorkers | None = None
    ) -> Iterator[tuple[list[ProfileId], int]]:
        """Recompute and store the rows of each batch of profiles, each batch its own unit
        of work (ids no longer live lose their rows); yields each batch and the rows
        written. Without ``workers``, a batch is read and written in one unit of work, so
        a write running meanwhile lands before it (and is recomputed) or after it (and
        writes its own row). With ``workers``, rows are computed in other processes, which
        read what is committed: call after the change that made the profiles, not inside
        it; a write landing between a worker's read and the row's write can leave that
        row stale (docs/scale.md). The workers start on the first batches at once."""
        now = self.clock()
        if workers is None:
            return self._compute_and_write(batches, now)
        return self._write_computed(workers.rows(batches, now))

    def _compute_and_write(
        self, batches: Iterable[list[ProfileId]], now: datetime
    ) -> Iterator[tuple[list[ProfileId], int]]:
        for batch in batches:
            with self.store.unit_of_work():
                rows = [v.to_row(now) for v in self.recompute(batch).values()]
                self._store_rows(batch, rows)
            yield batch, len(rows)

    def _write_computed(
        self, computed: Iterable[tuple[list[ProfileId], list[ProfileViewRow]]]
    ) -> Iterator[tuple[list[ProfileId], int]]:
        for batch, rows in computed:
            with self.store.unit_of_work():
                self._store_rows(batch, rows)
            yield batch, len(rows)

    def _store_rows(self, batch: list[ProfileId], rows: list[ProfileViewRow]) -> None:
        self._claim_new()
        self.store.views.put(rows)
        written = {row.profile_id for row in rows}
        self.store.views.delete([pid for pid in batch if pid not in written])

    def check(
        self, batch_size: int = BATCH, progress: Callable[[int], None] | None = None
    ) -> list[Difference]:
        """Every difference between the stored rows and a recomputation (empty: equal).
        ``progress`` gets the profiles compared so far."""
        differences: list[Difference] = []
        stamp = datetime.fromtimestamp(0).astimezone()
        done = 0
        for batch in in_batches(self.store.profiles.scan_ids(batch_size=batch_size), batch_size):
            with self.store.reading():
                stored = self.store.views.get(batch)
                truth = self.recompute(batch)
            for pid in batch:
                differences.extend(_compare(pid, stored.get(pid), truth.get(pid), stamp))
            done += len(batch)
            if progress is not None:
                progress(done)
        for batch in in_batches(self.store.views.scan_ids(batch_size=batch_size), batch_size):
            live = self.store.profiles.get(batch)
            differences.extend(
                Difference(pid, "profile_id", pid, None) for pid in batch if pid not in live
            )
        return differences

    # -- reading -----------------------------------------------------------------------------

    def get_profiles(self, profile_ids: Sequence[ProfileId]) -> list[Profile | None]:
        """Profiles by id, following merges like :meth:`ProfileService.get_many`, with the
        golden record and identifiers of the read model and without their records (read
        them with :meth:`ProfileService.records_of` when needed): one entry per id."""
        with self.store.reading():
            resolved = self.store.profiles.resolve(profile_ids)
            rows = self.store.profiles.get(sorted(set(resolved.values())))
            views = self.get_many(list(rows))
        built = {pid: profile(row, views.get(pid)) for pid, row in rows.items()}
        return [built.get(resolved.get(pid, "")) for pid in profile_ids]

    def get_many(self, profile_ids: Sequence[ProfileId]) -> dict[ProfileId, ProfileView]:
        """The rows of live profiles (ids as given, not followed through merges; others
        absent): stored when the view is fresh, else recomputed."""
        if not self.fresh():
            return self.recompute(profile_ids)
        with self.store.reading():
            rows = self.store.views.get(profile_ids)
            missing = [pid for pid in profile_ids if pid not in rows]
            # A live profile without a row cannot happen in a fresh view; be correct anyway.
            extra = self.recompute(missing) if missing else {}
        views = {pid: ProfileView.from_row(row) for pid, row in rows.items()}
        views.update(extra)
        return views


def _compare(
    pid: ProfileId,
    stored: ProfileViewRow | None,
    truth: ProfileView | None,
    stamp: datetime,
) -> Iterator[Difference]:
    if stored is None and truth is None:
        return
    if stored is None or truth is None:
        yield Difference(
            pid, "profile_id", None if stored is None else pid, None if truth is None else pid
        )
        return
    expected = truth.to_row(stamp)
    for name in ProfileViewRow.__slots__:
        if name == "computed_at":
            continue
        a, b = getattr(stored, name), getattr(expected, name)
        if a != b:
            yield Difference(pid, name, a, b)


def in_batches(ids: Iterable[ProfileId], size: int) -> Iterator[list[ProfileId]]:
    batch: list[ProfileId] = []
    for pid in ids:
        batch.append(pid)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
