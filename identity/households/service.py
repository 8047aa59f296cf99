"""Households as a use case: rebuild them all from the read model, read a profile's,
export them, and let stewards correct them (audited, reversible, kept by every rebuild).

A rebuild reads every live profile's read-model row in batches, pairs the profiles that
share evidence (identity/households/derivation.py), and replaces the stored households in
one unit of work. Households are not kept current per write: a resolution that merges or
splits profiles leaves them as they were until the next ``idgraph households build``; a
read follows a merged-away member to its survivor (docs/households.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from identity.audit import AuditService
from identity.errors import (
    ConfigError,
    InvalidArgument,
    StewardConflict,
    UnknownAction,
    UnknownProfile,
)
from identity.households.derivation import (
    ALONE,
    APART,
    TOGETHER,
    SharedValues,
    assign_ids,
    components,
    evidence_edges,
    facts_of,
)
from identity.households.rules import STEWARD
from identity.model import JSONValue, ProfileId
from identity.profile_view import ProfileViewService, in_batches
from identity.resolution import utc_now
from identity.rules import Rules
from identity.segments import SegmentService
from identity.store.base import Store
from identity.store.ports import HouseholdCorrection, HouseholdRow

BATCH = 2_000
"""Profiles read per read-model read of a rebuild."""
ACTIONS = ("household_keep_apart", "household_remove", "household_join")
"""The audited steward actions on households (undone by ``household_undo``)."""


@dataclass(slots=True)
class BuildReport:
    """What a rebuild found."""

    profiles: int = 0
    households: int = 0
    members: int = 0
    evidence: dict[str, int] = field(default_factory=dict)
    """Evidence pairs by type, over the households kept."""
    kept_ids: int = 0
    """Households that kept the id of an earlier build."""
    too_large: int = 0
    too_large_profiles: int = 0
    crowded_values: int = 0
    refused_by_stewards: int = 0
    segment_changes: int = 0
    """Membership changes of segments with household conditions the build made."""
    seconds: float = 0.0

    def as_dict(self) -> dict[str, JSONValue]:
        return {
            "profiles": self.profiles,
            "households": self.households,
            "members": self.members,
            "evidence": dict(self.evidence),
            "kept_ids": self.kept_ids,
            "too_large": self.too_large,
            "too_large_profiles": self.too_large_profiles,
            "crowded_values": self.crowded_values,
            "refused_by_stewards": self.refused_by_stewards,
            "segment_changes": self.segment_changes,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True, slots=True)
class Household:
    """A household as read: its live members (merged-away ids followed to their
    survivors) and the evidence that joined them."""

    id: str
    members: tuple[ProfileId, ...]
    evidence: tuple[tuple[str, ProfileId, ProfileId], ...]
    since: str

    @property
    def evidence_types(self) -> tuple[str, ...]:
        return tuple(sorted({t for t, _, _ in self.evidence}))


@dataclass(frozen=True, slots=True)
class CorrectionResult:
    """A steward's household action as done: its audit entry and the households it left
    for the profiles it named (None: in no household)."""

    action_id: int
    households: dict[ProfileId, Household | None]


class HouseholdService:
    """Builds, reads, exports and corrects households."""

    def __init__(
        self,
        store: Store,
        rules: Rules,
        views: ProfileViewService,
        audit: AuditService,
        clock: Callable[[], datetime] = utc_now,
        segments: SegmentService | None = None,
    ) -> None:
        self.segments = segments
        """Re-evaluates segments with household conditions when households change."""
        self.store = store
        self.rules = rules
        self.household_rules = rules.households
        self.views = views
        self.audit = audit
        self.clock = clock

    def _enabled(self) -> None:
        if not self.household_rules.enabled:
            raise ConfigError(
                "households are turned off: set enabled = true under [households]",
                field="households.enabled",
            )

    # -- building ---------------------------------------------------------------------------

    def rebuild(
        self, batch_size: int = BATCH, progress: Callable[[int], None] | None = None
    ) -> BuildReport:
        """Derive every household from the live profiles' read-model rows and the
        stewards' corrections, and replace the stored ones in one unit of work.
        ``progress`` gets the profiles read so far."""
        self._enabled()
        started = time.perf_counter()
        report = BuildReport()
        rules = self.household_rules
        shared = SharedValues(rules.evidence)
        for batch in in_batches(self.store.profiles.scan_ids(batch_size=batch_size), batch_size):
            views = self.views.get_many(batch)
            shared.add(
                facts_of(
                    pid,
                    {a.name: a.value for a in view.attributes},
                    [(i.kind, i.value) for i in view.identifiers],
                    rules,
                    self.rules.is_blocklisted,
                )
                for pid, view in views.items()
            )
            report.profiles += len(batch)
            if progress is not None:
                progress(report.profiles)
        found = evidence_edges(shared, rules.max_members)
        report.crowded_values = found.crowded_values
        corrections = self._live_corrections()
        joined = components(found.edges, corrections, rules.max_members)
        report.too_large = joined.too_large
        report.too_large_profiles = joined.too_large_profiles
        report.refused_by_stewards = joined.refused
        previous: dict[ProfileId, HouseholdRow] = {}
        for page in self.store.households.scan():
            for row in page:
                previous.update(dict.fromkeys(row.members, row))
        households = assign_ids(joined.households, previous, self.clock().isoformat())
        before = {row.id for row in previous.values()}
        with self.store.unit_of_work():
            self.store.households.replace(households)
        if self.segments is not None:
            now = {p: h.members for h in households for p in h.members}
            old = {p: h.members for p, h in previous.items()}
            changed = {p for p in now.keys() | old.keys() if now.get(p) != old.get(p)}
            live = self.store.profiles.resolve(changed)
            report.segment_changes = self.segments.households_changed(set(live.values()))
        report.households = len(households)
        report.members = sum(len(h.members) for h in households)
        report.kept_ids = sum(h.id in before for h in households)
        for h in households:
            for kind, _, _ in h.evidence:
                report.evidence[kind] = report.evidence.get(kind, 0) + 1
        report.seconds = time.perf_counter() - started
        return report

    def _live_corrections(self) -> list[HouseholdCorrection]:
        """The stored corrections with merged-away profile ids followed to their
        survivors, as a rebuild applies them (a correction of a deleted profile lapses)."""
        stored = self.store.households.corrections()
        resolved = self.store.profiles.resolve({p for c in stored for p in c.profiles})
        live = []
        for c in stored:
            profiles = tuple(resolved.get(p) for p in c.profiles)
            if all(profiles) and len(set(profiles)) == len(profiles):
                live.append(
                    HouseholdCorrection(
                        c.kind, tuple(p for p in profiles if p), c.actor, c.reason, c.at
                    )
                )
        return live

    # -- reading ----------------------------------------------------------------------------

    def of_profiles(self, profile_ids: Sequence[ProfileId]) -> dict[ProfileId, Household]:
        """The household of each profile that has one, the ids followed through merges
        (UnknownProfile is not raised: an unknown id has none)."""
        if not self.household_rules.enabled or not profile_ids:
            return {}
        with self.store.reading():
            resolved = self.store.profiles.resolve(profile_ids)
            rows = self.store.households.of_profiles(set(resolved.values()))
            members = self.store.profiles.resolve({p for r in rows.values() for p in r.members})
        found = {}
        for pid in profile_ids:
            row = rows.get(resolved.get(pid, ""))
            if row is not None:
                found[pid] = _household(row, members)
        return found

    def get(self, household_ids: Sequence[str]) -> dict[str, Household]:
        with self.store.reading():
            rows = self.store.households.get(household_ids)
            members = self.store.profiles.resolve({p for r in rows.values() for p in r.members})
        return {hid: _household(row, members) for hid, row in rows.items()}

    def scan(self, batch_size: int = 10_000) -> Iterator[list[Household]]:
        """Every household, by id, in batches (as stored: members not followed through
        merges, which a rebuild settles)."""
        self._enabled()
        for page in self.store.households.scan(batch_size):
            yield [Household(r.id, r.members, r.evidence, r.since) for r in page]

    # -- stewards' corrections --------------------------------------------------------------

    def keep_apart(self, a: ProfileId, b: ProfileId, reason: str, actor: str) -> CorrectionResult:
        """Two profiles are never in one household (this and every later build)."""
        pa, pb = self._two(a, b)
        added = HouseholdCorrection(APART, (pa, pb), actor, self._reason(reason), self._now())
        removed = [HouseholdCorrection(TOGETHER, (pa, pb), "", "", "").key]
        return self._correct("household_keep_apart", actor, reason, [pa, pb], [added], removed)

    def remove(self, profile_id: ProfileId, reason: str, actor: str) -> CorrectionResult:
        """A profile is in no household (this and every later build)."""
        (pid,) = self._live([profile_id])
        added = HouseholdCorrection(ALONE, (pid,), actor, self._reason(reason), self._now())
        removed = [
            c.key
            for c in self.store.households.corrections()
            if c.kind == TOGETHER and pid in c.profiles
        ]
        return self._correct("household_remove", actor, reason, [pid], [added], removed)

    def join(self, a: ProfileId, b: ProfileId, reason: str, actor: str) -> CorrectionResult:
        """Two profiles are in one household (with the members of the households they are
        in), unless that household would pass ``max_members``: StewardConflict."""
        pa, pb = self._two(a, b)
        added = HouseholdCorrection(TOGETHER, (pa, pb), actor, self._reason(reason), self._now())
        removed = [
            HouseholdCorrection(APART, (pa, pb), "", "", "").key,
            HouseholdCorrection(ALONE, (pa,), "", "", "").key,
            HouseholdCorrection(ALONE, (pb,), "", "", "").key,
        ]
        return self._correct("household_join", actor, reason, [pa, pb], [added], removed)

    def undo(self, action_id: int, reason: str, actor: str) -> CorrectionResult:
        """Reverse a steward's household action: its corrections are withdrawn (and those it
        replaced restored) and the households it changed come back as they were. Refused
        (StewardConflict) when undone already, or when those households changed since (a
        rebuild): withdraw the correction by another action then."""
        found = self.store.audit.get([action_id]).get(action_id)
        if found is None:
            raise UnknownAction(action_id)
        if found.entry.action not in ACTIONS:
            raise StewardConflict(
                f"action {action_id} is not a household correction ({', '.join(ACTIONS)})"
            )
        if found.undone_by is not None:
            raise StewardConflict(f"action {action_id} was undone already (by {found.undone_by})")
        before, after = found.entry.before, found.entry.after
        restore = [_correction_from(x) for x in _list(after.get("corrections_removed"))]
        withdraw = [_correction_from(x).key for x in _list(after.get("corrections_added"))]
        old = [_row_from(x) for x in _list(before.get("households"))]
        new = [_row_from(x) for x in _list(after.get("households"))]
        profiles = [str(p) for p in _list(after.get("profiles"))]
        with self.store.unit_of_work():
            touched = {p for r in old + new for p in r.members} | set(profiles)
            current = self.store.households.of_profiles(touched)
            if {r.id: r for r in current.values()} != {r.id: r for r in new}:
                raise StewardConflict(
                    f"the households of action {action_id} changed since (a rebuild or "
                    "another correction): correct them with a new action instead"
                )
            self.store.households.put_corrections(restore, withdraw)
            self.store.households.put(old, removed={r.id for r in new} - {r.id for r in old})
            if self.segments is not None:
                self.segments.households_changed(touched)
            action = self.audit.record(
                actor,
                "household_undo",
                str(action_id),
                self._reason(reason),
                before=after,
                after=before,
                undoes=action_id,
            )
            now = self.store.households.of_profiles(profiles)
        return CorrectionResult(action, _result(profiles, now))

    def _correct(
        self,
        action: str,
        actor: str,
        reason: str,
        profiles: list[ProfileId],
        added: list[HouseholdCorrection],
        removed_keys: list[str],
    ) -> CorrectionResult:
        """Store corrections and re-derive the households of ``profiles`` from the
        evidence stored with their current households (no full rebuild), audited, all in
        one unit of work."""
        self._enabled()
        with self.store.unit_of_work():
            existing = {c.key: c for c in self.store.households.corrections()}
            replaced = [existing[k] for k in removed_keys if k in existing]
            self.store.households.put_corrections(added, [c.key for c in replaced])
            old = self.store.households.of_profiles(profiles)
            olds = {r.id: r for r in old.values()}
            edges = [e for r in olds.values() for e in r.evidence if e[0] != STEWARD]
            corrections = self._live_corrections()
            joined = components(edges, corrections, self.household_rules.max_members)
            involved = set(profiles) | {p for r in olds.values() for p in r.members}
            mine = [c for c in joined.households if set(c.members) & involved]
            if action == "household_join" and not any(
                set(profiles) <= set(c.members) for c in mine
            ):
                raise StewardConflict(
                    "joining these profiles would make a household of more than "
                    f"{self.household_rules.max_members} members (households.max_members)"
                )
            previous = {p: r for r in olds.values() for p in r.members}
            rows = assign_ids(mine, previous, self._now(), taken=set())
            self.store.households.put(rows, removed=set(olds) - {r.id for r in rows})
            if self.segments is not None:
                self.segments.households_changed(involved)
            action_id = self.audit.record(
                actor,
                action,
                ",".join(profiles),
                self._reason(reason),
                before={
                    "households": [_row_doc(r) for r in olds.values()],
                    "profiles": list(profiles),
                },
                after={
                    "households": [_row_doc(r) for r in rows],
                    "profiles": list(profiles),
                    "corrections_added": [_correction_doc(c) for c in added],
                    "corrections_removed": [_correction_doc(c) for c in replaced],
                },
            )
            now = self.store.households.of_profiles(profiles)
        return CorrectionResult(action_id, _result(profiles, now))

    def _two(self, a: ProfileId, b: ProfileId) -> tuple[ProfileId, ProfileId]:
        pa, pb = self._live([a, b])
        if pa == pb:
            raise InvalidArgument(f"{a} and {b} are one profile", argument="profileIds")
        return (pa, pb) if pa < pb else (pb, pa)

    def _live(self, profile_ids: Sequence[ProfileId]) -> list[ProfileId]:
        resolved = self.store.profiles.resolve(profile_ids)
        for pid in profile_ids:
            if pid not in resolved:
                raise UnknownProfile(pid)
        return [resolved[pid] for pid in profile_ids]

    def _reason(self, reason: str | None) -> str:
        if reason is None or not reason.strip():
            raise InvalidArgument("a household correction needs a reason", argument="reason")
        return reason.strip()

    def _now(self) -> str:
        return self.clock().isoformat()


def _household(row: HouseholdRow, resolved: dict[ProfileId, ProfileId]) -> Household:
    members = tuple(sorted({resolved[p] for p in row.members if p in resolved}))
    return Household(row.id, members, row.evidence, row.since)


def _result(
    profiles: list[ProfileId], rows: dict[ProfileId, HouseholdRow]
) -> dict[ProfileId, Household | None]:
    return {
        p: Household(r.id, r.members, r.evidence, r.since) if (r := rows.get(p)) else None
        for p in profiles
    }


def _list(value: JSONValue) -> list[JSONValue]:
    return value if isinstance(value, list) else []


def _row_doc(row: HouseholdRow) -> dict[str, JSONValue]:
    return {
        "id": row.id,
        "members": list(row.members),
        "evidence": [list(e) for e in row.evidence],
        "since": row.since,
    }


def _row_from(doc: JSONValue) -> HouseholdRow:
    assert isinstance(doc, dict)
    members = _list(doc["members"])
    evidence = [e for e in _list(doc["evidence"]) if isinstance(e, list)]
    return HouseholdRow(
        str(doc["id"]),
        tuple(str(p) for p in members),
        tuple((str(t), str(a), str(b)) for t, a, b in evidence),
        str(doc["since"]),
    )


def _correction_doc(c: HouseholdCorrection) -> dict[str, JSONValue]:
    return {
        "kind": c.kind,
        "profiles": list(c.profiles),
        "actor": c.actor,
        "reason": c.reason,
        "at": c.at,
    }


def _correction_from(doc: JSONValue) -> HouseholdCorrection:
    assert isinstance(doc, dict)
    return HouseholdCorrection(
        str(doc["kind"]),
        tuple(str(p) for p in _list(doc["profiles"])),
        str(doc["actor"]),
        str(doc["reason"]),
        str(doc["at"]),
    )
