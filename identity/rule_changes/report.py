"""What a rule change does to the stored profiles, as a report: the profiles that merge,
split or stay, the largest changes with their records, and the figures a diff and the
apply after it must agree on. Built by comparing each record's profile before and after
the rebase (identity/rule_changes/rebase.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from identity.evaluation import PairwiseScores
from identity.model import JSONValue, ProfileId, RecordRef

LARGEST = 20
"""How many of the largest changes a report lists."""
RECORDS_SHOWN = 50
"""Records listed per change (all are counted)."""


@dataclass(frozen=True, slots=True)
class ChangedProfile:
    """One side of a change: a profile id (None: a profile the change would create, whose
    id a dry run cannot know) and its records of the change."""

    id: ProfileId | None
    records: int
    """How many records the profile holds (before: all of them; after: all of them)."""
    moved: tuple[RecordRef, ...]
    """The records of the change it holds, at most :data:`RECORDS_SHOWN`."""


@dataclass(frozen=True, slots=True)
class ProfileChange:
    """Profiles whose records regroup together: ``before`` became ``after``."""

    kind: str
    """``merge``, ``split`` or ``merge and split``."""
    records: int
    """Records that change profile."""
    before: tuple[ChangedProfile, ...]
    after: tuple[ChangedProfile, ...]

    def partition(self) -> tuple[frozenset[RecordRef], ...]:
        """The records that moved, grouped as they end up, ids aside (for comparing a
        diff's change with the apply's)."""
        return tuple(sorted((frozenset(p.moved) for p in self.after), key=sorted))


@dataclass(slots=True)
class RebaseReport:
    """What a rule change does (a diff) or did (an apply, an undo) to the stored graph."""

    changes: list[str]
    not_retroactive: list[str]
    profiles_before: int = 0
    profiles_after: int = 0
    merged: int = 0
    """Profiles before whose records join another profile's."""
    split: int = 0
    """Profiles before whose records end up in more than one profile."""
    stayed: int = 0
    """Profiles before that keep exactly their records."""
    records_moved: int = 0
    largest: list[ProfileChange] = field(default_factory=list)
    segments: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Segment -> (profiles entering, profiles exiting)."""
    started_linking: int = 0
    stopped_linking: int = 0
    links_to_match: int = 0
    links_to_review: int = 0
    links_removed: int = 0
    read_model_rows: int = 0
    households: int | None = None
    """Households after the change, when it built them again (None: it did not)."""
    quality_before: PairwiseScores | None = None
    quality_after: PairwiseScores | None = None
    seconds: float = 0.0
    applied: bool = False
    audit_id: int | None = None

    def counts(self) -> dict[str, JSONValue]:
        """The report's figures (no ids, no records): what the audit log keeps and what a
        diff and the apply after it must agree on."""
        return {
            "profiles_before": self.profiles_before,
            "profiles_after": self.profiles_after,
            "merged": self.merged,
            "split": self.split,
            "stayed": self.stayed,
            "records_moved": self.records_moved,
            "started_linking": self.started_linking,
            "stopped_linking": self.stopped_linking,
            "links_to_match": self.links_to_match,
            "links_to_review": self.links_to_review,
            "links_removed": self.links_removed,
            "read_model_rows": self.read_model_rows,
            "households": self.households,
            "segments": {k: [e, x] for k, (e, x) in sorted(self.segments.items())},
        }


def report_document(report: RebaseReport) -> dict[str, JSONValue]:
    """The whole report as JSON (``idgraph rules diff --json``)."""

    def side(p: ChangedProfile) -> dict[str, JSONValue]:
        return {
            "profile_id": p.id,
            "records": p.records,
            "moved": [{"source": r.source, "key": r.key} for r in p.moved],
        }

    def scores(s: PairwiseScores | None) -> JSONValue:
        if s is None:
            return None
        return {"precision": s.precision, "recall": s.recall, "f1": s.f1}

    return {
        "applied": report.applied,
        "audit_id": report.audit_id,
        "changes": list(report.changes),
        "not_retroactive": list(report.not_retroactive),
        **report.counts(),
        "largest": [
            {
                "kind": c.kind,
                "records": c.records,
                "before": [side(p) for p in c.before],
                "after": [side(p) for p in c.after],
            }
            for c in report.largest
        ],
        "quality_before": scores(report.quality_before),
        "quality_after": scores(report.quality_after),
        "seconds": round(report.seconds, 3),
    }


def compare(
    before: Mapping[RecordRef, ProfileId | None],
    after: Mapping[RecordRef, ProfileId | None],
    report: RebaseReport,
    new_ids: bool,
) -> None:
    """Fill in the report's profile figures and largest changes from each record's profile
    before and after (records without a profile count as their own)."""
    sizes_before = Counter(pid for pid in before.values() if pid is not None)
    sizes_after = Counter(pid for pid in after.values() if pid is not None)
    report.profiles_before, report.profiles_after = len(sizes_before), len(sizes_after)
    moved = [ref for ref, pid in after.items() if before.get(ref) != pid]
    report.records_moved = len(moved)
    # Old and new profiles joined by a moved record are one change (a bipartite component).
    parent: dict[tuple[str, object], tuple[str, object]] = {}

    def find(x: tuple[str, object]) -> tuple[str, object]:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def side(tag: str, pid: ProfileId | None, ref: RecordRef) -> tuple[str, object]:
        return (tag, pid if pid is not None else ref)

    for ref in moved:
        a, b = find(side("before", before.get(ref), ref)), find(side("after", after[ref], ref))
        if a != b:
            parent[a] = b
    groups: dict[tuple[str, object], list[RecordRef]] = {}
    for ref in moved:
        groups.setdefault(find(side("after", after[ref], ref)), []).append(ref)
    # Profiles before whose records now share a profile with another's, or spread.
    spread: dict[object, set[object]] = {}
    mixed: dict[object, set[object]] = {}
    for ref, pid in after.items():
        old: object = before.get(ref) or ref
        new: object = pid or ref
        spread.setdefault(old, set()).add(new)
        mixed.setdefault(new, set()).add(old)
    merged = {old for olds in mixed.values() if len(olds) > 1 for old in olds}
    split = {old for old, news in spread.items() if len(news) > 1}
    report.merged = len(merged & sizes_before.keys())
    report.split = len(split & sizes_before.keys())
    report.stayed = len(sizes_before.keys() - merged - split)
    changes = [
        _change(refs, before, after, sizes_before, sizes_after, merged, split, new_ids)
        for refs in groups.values()
    ]
    changes.sort(key=lambda c: (-c.records, sorted(str(p.id) for p in c.before)))
    report.largest = changes[:LARGEST]


def _change(
    refs: list[RecordRef],
    before: Mapping[RecordRef, ProfileId | None],
    after: Mapping[RecordRef, ProfileId | None],
    sizes_before: Counter[ProfileId],
    sizes_after: Counter[ProfileId],
    merged: set[object],
    split: set[object],
    new_ids: bool,
) -> ProfileChange:
    olds: dict[ProfileId | None, list[RecordRef]] = {}
    news: dict[ProfileId | None, list[RecordRef]] = {}
    for ref in sorted(refs):
        olds.setdefault(before.get(ref), []).append(ref)
        news.setdefault(after[ref], []).append(ref)
    was_merged = any(p in merged for p in olds)
    was_split = any(p in split for p in olds)
    kind = "merge and split" if was_merged and was_split else "merge" if was_merged else "split"
    return ProfileChange(
        kind=kind,
        records=len(refs),
        before=tuple(
            ChangedProfile(p, sizes_before.get(p, 1) if p else 1, tuple(r[:RECORDS_SHOWN]))
            for p, r in sorted(olds.items(), key=lambda i: str(i[0]))
        ),
        after=tuple(
            ChangedProfile(
                p if new_ids or p in sizes_before else None,
                sizes_after.get(p, 1) if p else 1,
                tuple(r[:RECORDS_SHOWN]),
            )
            for p, r in sorted(news.items(), key=lambda i: str(i[0]))
        ),
    )
