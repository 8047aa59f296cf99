"""A rule change applied to what is already stored: the retroactive rebase, its dry run and
its undo.

The rebase re-flags the identifiers whose linking the change decides differently,
decides again the stored matcher links whose weights the new thresholds place
differently, and re-resolves exactly the records these and the changed kinds reach, with
the resolver of the new rules: profile ids follow the usual rules on merge and split, the
profile change log and segment membership follow in the same unit of work, and steward
must-links and cannot-links are links like any other, which clustering obeys.

The dry run is the same rebase in a unit of work that is then rolled back: the store's own
transaction is the copy-on-write view (other readers never see it), and the numbers a
diff reports are by construction the numbers an apply on the same data gives.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import replace

from identity.audit import link_document, link_from_document
from identity.duplicates import NOTE, DuplicateAccounts
from identity.errors import ConfigError, NothingToUndo
from identity.evaluation import RecordKey, pairwise
from identity.graph import IdentityGraph
from identity.matching.matcher import MATCHER
from identity.model import (
    IdentifierKey,
    Link,
    LinkType,
    MembershipKind,
    ProfileId,
    RecordId,
    RecordRef,
    StoredAuditEntry,
)
from identity.rule_changes.active import activate, digest
from identity.rule_changes.difference import RuleDifference, Thresholds, difference
from identity.rule_changes.report import RebaseReport, compare
from identity.rules import ANY_KIND, Rules, rules_from_text

APPLY = "rules.apply"
UNDO = "rules.undo"

Progress = Callable[[str], None]
"""Told what the rebase is doing now (a step's description)."""


class _DryRun(Exception):
    """Raised inside the dry run's unit of work to roll it back."""


class RuleChanges:
    """Diff, apply and undo a change of the identity rules on the stored graph.

    ``graph`` is opened with the current rules, whose text is ``current_text`` (the store's
    active rules, or the file the deployment runs with).
    """

    def __init__(self, graph: IdentityGraph, current_text: str) -> None:
        self.graph = graph
        self.store = graph.store
        self._current(current_text)

    def _current(self, text: str) -> None:
        """The rules the stored graph is resolved by: what a change is measured from."""
        self.current_text = text
        self.current = rules_from_text(text, "the current rules")

    def diff(
        self,
        new_text: str,
        where: str = "new rules",
        truth: Mapping[RecordKey, str] | None = None,
        progress: Progress | None = None,
    ) -> RebaseReport:
        """What applying ``new_text`` would do; the store is left as it was."""
        new_rules = rules_from_text(new_text, where)
        found: list[RebaseReport] = []
        try:
            with self.store.unit_of_work():
                found.append(self._rebase(new_rules, truth, progress, dry_run=True)[0])
                raise _DryRun
        except _DryRun:
            pass
        return found[0]

    def apply(
        self,
        new_text: str,
        actor: str,
        reason: str,
        where: str = "new rules",
        truth: Mapping[RecordKey, str] | None = None,
        progress: Progress | None = None,
    ) -> RebaseReport:
        """Rebase the stored graph onto ``new_text``, audited with its diff, in one unit of
        work; the store's active rules become ``new_text``."""
        _require_reason(reason)
        new_rules = rules_from_text(new_text, where)
        with self.store.unit_of_work():
            report, removed = self._rebase(new_rules, truth, progress, dry_run=False)
            report.audit_id = self.graph.audit.record(
                actor,
                APPLY,
                target=digest(new_text)[:12],
                reason=reason,
                before={"rules": self.current_text, "digest": digest(self.current_text)},
                after={
                    "rules": new_text,
                    "digest": digest(new_text),
                    "changes": list(report.changes),
                    "not_retroactive": list(report.not_retroactive),
                    "counts": report.counts(),
                    "removed_links": [link_document(x) for x in removed],
                },
            )
            activate(self.store, new_text, report.audit_id)
        self._current(new_text)
        report.applied = True
        return report

    def undo(self, actor: str, reason: str, progress: Progress | None = None) -> RebaseReport:
        """Rebase back onto the rules the last apply not yet undone replaced, putting back
        the review pairs it removed; audited as that apply's undo."""
        _require_reason(reason)
        entry = self._last_apply()
        old_text = str(entry.entry.before.get("rules", ""))
        removed = entry.entry.after.get("removed_links")
        new_rules = rules_from_text(old_text, f"the rules before audit entry {entry.id}")
        restored = (
            [link_from_document(x) for x in removed if isinstance(x, dict)]
            if isinstance(removed, list)
            else []
        )
        with self.store.unit_of_work():
            self.store.links.put(restored)
            # A restored MATCH link joins again what its removal split.
            joined = {r for x in restored if x.type is LinkType.MATCH for r in (x.a, x.b)}
            report, dropped = self._rebase(new_rules, None, progress, dry_run=False, seeds=joined)
            report.audit_id = self.graph.audit.record(
                actor,
                UNDO,
                target=digest(old_text)[:12],
                reason=reason,
                before={"rules": self.current_text, "digest": digest(self.current_text)},
                after={
                    "rules": old_text,
                    "digest": digest(old_text),
                    "changes": list(report.changes),
                    "counts": report.counts(),
                    "removed_links": [link_document(x) for x in dropped],
                },
                undoes=entry.id,
            )
            activate(self.store, old_text, report.audit_id)
        self._current(old_text)
        report.applied = True
        return report

    # -- the rebase ------------------------------------------------------------------------

    def _rebase(
        self,
        new_rules: Rules,
        truth: Mapping[RecordKey, str] | None,
        progress: Progress | None,
        dry_run: bool,
        seeds: Collection[RecordId] = (),
    ) -> tuple[RebaseReport, list[Link]]:
        """The rebase inside the caller's unit of work: its report, and the matcher links
        it removed (below the new review threshold). ``seeds`` are records to re-resolve
        whatever the change. A dry run's new profile ids are not reported: they are rolled
        back with it."""
        say = progress or (lambda _: None)
        started = time.perf_counter()
        store = self.store
        change = difference(self.current, new_rules)
        report = RebaseReport(changes=change.lines(), not_retroactive=list(change.not_retroactive))
        say("reading the profiles")
        before = dict(store.records.scan_profiles())
        after_seq = store.segments.last_change_seq()
        new_graph = IdentityGraph(store, new_rules, clock=self.graph.clock)
        say("finding the identifiers whose linking changes")
        counts, changed = self._identifiers(change)
        report.started_linking = sum(
            1 for k in changed if new_rules.link_block_reason(k, counts[k]) is None
        )
        report.stopped_linking = sum(
            1 for k in changed if self.current.link_block_reason(k, counts[k]) is None
        )
        say("deciding the stored matcher links again")
        resolving: set[RecordId] = set(seeds) | set(store.records.holding_kinds(change.kinds))
        removed: list[Link] = []
        if change.relinks and new_rules.matching is not None:
            moved, removed = self._relink(change, new_rules, report)
            resolving |= moved
        say(
            f"re-resolving {len(resolving):,} records and the holders of "
            f"{len(changed):,} identifier{'' if len(changed) == 1 else 's'}"
        )
        new_graph.resolver.resolve(
            sorted(resolving),
            touched_identifiers=changed,
            status_changed=changed,
            identifier_counts=counts,
        )
        if change.read_model:
            say("recomputing every golden record")
            report.read_model_rows = self._recompute_read_model(new_graph)
        say("comparing the profiles")
        after = dict(store.records.scan_profiles())
        compare(before, after, report, new_ids=not dry_run)
        if new_rules.households.enabled and change.households:
            # Built again when their rule changed. Other changes leave them to the next
            # `idgraph households build`, as every load does: a build reads every profile,
            # which would make a one-value change cost a whole store's read.
            say("building the households again")
            report.households = new_graph.households.rebuild().households
        report.segments = self._segment_changes(after_seq)
        if truth is not None:
            report.quality_before = pairwise(_keyed(before), truth)
            report.quality_after = pairwise(_keyed(after), truth)
        report.seconds = time.perf_counter() - started
        return report, removed

    def _identifiers(
        self, change: RuleDifference
    ) -> tuple[dict[IdentifierKey, int], list[IdentifierKey]]:
        """Record counts of every identifier the change may concern, and those whose
        reason not to link (if any) differs between the rules."""
        records = self.store.records
        counts: dict[IdentifierKey, int] = {}
        for kind, (old_cap, new_cap) in change.caps.items():
            counts.update(records.identifiers_shared(kind, min(old_cap, new_cap)))
        listed = _merged(change.blocked, change.unblocked)
        anywhere = listed.pop(ANY_KIND, set())
        exact = [IdentifierKey(kind, v) for kind, values in listed.items() for v in values]
        counts.update((k, n) for k, n in records.identifier_counts(exact).items() if n > 0)
        if anywhere:
            counts.update(records.identifiers_valued(anywhere))
        before, after = change.before, change.after
        changed = sorted(
            k
            for k, n in counts.items()
            if k.kind in after.kinds
            and after.kinds[k.kind].links
            and before.link_block_reason(k, n) != after.link_block_reason(k, n)
        )
        return counts, changed

    def _relink(
        self, change: RuleDifference, new_rules: Rules, report: RebaseReport
    ) -> tuple[set[RecordId], list[Link]]:
        """Decide again the stored matcher links the change may decide differently: those
        the new thresholds place on the other side, and within-source pairs when a kind's
        duplicate settings changed. Returns the records of links that started or stopped
        joining profiles, and the links removed."""
        store = self.store
        crossing = _crossing(change.thresholds)
        candidates: set[tuple[RecordId, RecordId]] = set()
        if change.thresholds is not None:
            for page in store.links.scan((LinkType.MATCH, LinkType.REVIEW)):
                candidates.update(
                    (x.a, x.b) for x in page if x.matcher == MATCHER and crossing(x.type, x.weight)
                )
        if change.kinds:
            candidates |= self._within_source_pairs()
        if not candidates:
            return set(), []
        ends = sorted({r for pair in candidates for r in pair})
        stored = [
            x
            for x in store.links.of(ends, types=(LinkType.MATCH, LinkType.REVIEW))
            if x.matcher == MATCHER
        ]
        redecide = [x for x in stored if (x.a, x.b) in candidates]
        decided = {
            (x.a, x.b): x for x in _decide(redecide, new_rules, DuplicateAccounts(store, new_rules))
        }
        kept: list[Link] = []
        removed: list[Link] = []
        moved: set[RecordId] = set()
        for link in stored:
            new = decided.get((link.a, link.b), link) if (link.a, link.b) in candidates else link
            if (link.a, link.b) in candidates and (link.a, link.b) not in decided:
                removed.append(link)
                report.links_removed += 1
                if link.type is LinkType.MATCH:
                    moved.update((link.a, link.b))
                continue
            if new.type is not link.type:
                moved.update((link.a, link.b))
                if new.type is LinkType.MATCH:
                    report.links_to_match += 1
                else:
                    report.links_to_review += 1
            kept.append(new)
        if moved or removed:
            store.links.replace(ends, MATCHER, kept)
        return moved, removed

    def _within_source_pairs(self) -> set[tuple[RecordId, RecordId]]:
        """Stored matcher links between records of one source: a kind's changed duplicate
        settings (its limit, its policy) decide them again."""
        store = self.store
        pairs: list[tuple[RecordId, RecordId]] = []
        for page in store.links.scan((LinkType.MATCH, LinkType.REVIEW)):
            pairs.extend((x.a, x.b) for x in page if x.matcher == MATCHER)
        refs = store.records.refs(sorted({r for p in pairs for r in p}))
        return {
            (a, b) for a, b in pairs if a in refs and b in refs and refs[a].source == refs[b].source
        }

    def _recompute_read_model(self, new_graph: IdentityGraph) -> int:
        done = 0
        batch: list[ProfileId] = []
        for pid in self.store.profiles.scan_ids():
            batch.append(pid)
            if len(batch) >= 2_000:
                new_graph.derived.profiles_changed(batch)
                done += len(batch)
                batch = []
        if batch:
            new_graph.derived.profiles_changed(batch)
            done += len(batch)
        return done

    def _segment_changes(self, after_seq: int) -> dict[str, tuple[int, int]]:
        found: dict[str, tuple[int, int]] = {}
        for definition in self.graph.segments.definitions():
            counted: Counter[MembershipKind] = Counter()
            seq = after_seq
            while page := self.store.segments.changes(definition.name, after=seq, limit=5_000):
                counted.update(c.kind for c in page)
                seq = page[-1].seq
            found[definition.name] = (
                counted[MembershipKind.ENTERED],
                counted[MembershipKind.EXITED],
            )
        return found

    def _last_apply(self) -> StoredAuditEntry:
        after: str | None = None
        while True:
            page = self.graph.audit.entries(first=500, after=after, action=APPLY)
            for entry in page.entries:
                if entry.undone_by is None:
                    return entry
            if not page.has_next_page:
                raise NothingToUndo("no applied rule change is left to undo")
            after = page.end_cursor


def _require_reason(reason: str) -> None:
    if not reason.strip():
        raise ConfigError("a rule change needs a reason for the audit log", field="reason")


def _merged(*parts: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    merged: dict[str, set[str]] = {}
    for part in parts:
        for kind, values in part.items():
            merged.setdefault(kind, set()).update(values)
    return merged


def _crossing(thresholds: Thresholds | None) -> Callable[[LinkType, float], bool]:
    """Whether a stored link of this type and weight may be decided differently under the
    new thresholds (a link's other conditions do not change with them)."""
    if thresholds is None:
        return lambda _type, _weight: False
    t = thresholds

    def crossing(type: LinkType, weight: float) -> bool:
        if weight < t.review_after:
            return True
        was_link, is_link = weight >= t.link_before, weight >= t.link_after
        return was_link != is_link or (type is LinkType.REVIEW and is_link)

    return crossing


def _decide(links: list[Link], rules: Rules, duplicates: DuplicateAccounts) -> list[Link]:
    """The links as the matcher decides them under ``rules`` from their stored weight and
    evidence (its vetoes are in the evidence); those under the review threshold go."""
    matching = rules.matching
    assert matching is not None
    kept: list[Link] = []
    for link in links:
        if link.weight < matching.review_threshold:
            continue
        evidence = {k: v for k, v in link.evidence.items() if k != NOTE}
        vetoed = "disagrees_on" in evidence or "needs_one_of" in evidence
        kind = (
            LinkType.MATCH
            if link.weight >= matching.link_threshold and not vetoed
            else LinkType.REVIEW
        )
        kept.append(replace(link, type=kind, evidence=evidence))
    return duplicates.decide(kept)


def _keyed(assignment: Mapping[RecordRef, ProfileId | None]) -> dict[RecordKey, str | None]:
    return {(ref.source, ref.key): pid for ref, pid in assignment.items()}
