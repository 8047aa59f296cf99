"""Duplicate accounts within one source: two records of one source that each carry their
own value of a kind limited per profile (two CRM customer ids of one person), so the
kind's ``max_per_profile`` holds them apart however well they match.

Such a pair is the duplicate a CDP is bought to find, and the limit cannot tell it from
two people, so it is decided by the kind's ``duplicates`` rule (identity/rules.py):

- ``review`` (default): a pair the matcher would link is held as a REVIEW pair, with a
  note saying which source and which limited kinds, for a steward whose accept (a
  must-link) overrides the limit;
- ``link``: such a pair stays a MATCH link and clustering lets it join over the limit,
  unless a field that a person has only one of (``duplicates_require_agreement``: names,
  birth date) counts against it, which holds it for review instead.

:func:`duplicate_account` is the pure test, shared by clustering (which lets a ``link``
pair through) and :class:`DuplicateAccounts`, which the matcher asks to decide its scored
pairs by the rules. The limit counts only identifiers that link (not blocklisted, under
their cardinality cap), as clustering does.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace

from identity.model import JSONValue, Link, LinkType, RecordId, RecordRef
from identity.rules import DuplicatePolicy, Rules
from identity.store.base import Store

NOTE = "duplicate_account"
"""The evidence key of a pair's duplicate-account note."""


@dataclass(frozen=True, slots=True)
class DuplicateAccount:
    """Two records of ``source`` whose own values of ``kinds`` break those kinds' limits."""

    source: str
    kinds: tuple[str, ...]
    policy: DuplicatePolicy
    """``link`` only when every one of the kinds' rules says so for the source."""


def limited_kinds(rules: Rules) -> frozenset[str]:
    """Kinds that link and have a limit per profile: the only ones duplicates concern."""
    return frozenset(
        name for name, rule in rules.kinds.items() if rule.links and rule.max_per_profile
    )


def duplicate_account(
    rules: Rules,
    a: RecordRef,
    b: RecordRef,
    held_a: Mapping[str, Collection[str]],
    held_b: Mapping[str, Collection[str]],
) -> DuplicateAccount | None:
    """The pair as duplicate accounts, or None: records of one source whose own linking
    values of a limited kind (``held_*``: kind -> values) are more than the limit allows
    together. A record that already carries two values on its own (a CRM row holding two
    customer ids) may meet a record adding no new one, as clustering allows."""
    if a.source != b.source:
        return None
    kinds: list[str] = []
    for kind in sorted(held_a.keys() & held_b.keys()):
        limit = rules.kinds[kind].max_per_profile
        if limit is None:
            continue
        va, vb = set(held_a[kind]), set(held_b[kind])
        if len(va | vb) > max(limit, len(va), len(vb)):
            kinds.append(kind)
    if not kinds:
        return None
    linked = all(rules.kinds[k].duplicates.policy(a.source) == "link" for k in kinds)
    return DuplicateAccount(a.source, tuple(kinds), "link" if linked else "review")


# -- the note a pair carries in its evidence -------------------------------------------------


@dataclass(frozen=True, slots=True)
class DuplicateNote:
    """What a scored pair's evidence says about it as duplicate accounts."""

    source: str
    limits: dict[str, int]
    """Each limited kind the pair breaks, with its ``max_per_profile``."""
    rule: str
    outcome: str
    """``linked`` (joined over the limit by the rule), ``held`` (the matcher links it,
    the limit holds it for review) or ``uncertain`` (under the link threshold, or a
    required field disagrees: a review pair in any case)."""
    counts_against: tuple[str, ...] = ()
    """``duplicates_require_agreement`` fields weighing against the pair."""

    @classmethod
    def of(cls, evidence: Mapping[str, JSONValue]) -> DuplicateNote | None:
        doc = evidence.get(NOTE)
        if not isinstance(doc, dict):
            return None
        limits = doc.get("limits")
        against = doc.get("counts_against", [])
        return cls(
            source=str(doc.get("source", "")),
            limits={str(k): int(v) for k, v in limits.items()} if isinstance(limits, dict) else {},
            rule=str(doc.get("rule", "review")),
            outcome=str(doc.get("outcome", "uncertain")),
            counts_against=tuple(str(f) for f in against) if isinstance(against, list) else (),
        )

    def document(self) -> dict[str, JSONValue]:
        doc: dict[str, JSONValue] = {
            "source": self.source,
            "limits": dict(self.limits),
            "rule": self.rule,
            "outcome": self.outcome,
        }
        if self.counts_against:
            doc["counts_against"] = list(self.counts_against)
        return doc

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self.limits)

    def reason(self) -> str:
        """One sentence for a steward: why the pair is in the review queue."""
        limits = ", ".join(f"{n} {kind}" for kind, n in self.limits.items())
        within = f"duplicate account within source {self.source}"
        if self.outcome == "held" and self.counts_against:
            return (
                f"likely {within}, held by the limit of {limits} per profile: "
                f"{', '.join(self.counts_against)} counts against it"
            )
        if self.outcome == "held":
            return (
                f"likely {within}: the match reaches the link threshold, but a profile holds "
                f'at most {limits} (duplicates = "{self.rule}")'
            )
        return (
            f"possible {within}: the records carry different values of "
            f"{', '.join(self.limits)} (a profile holds at most {limits})"
        )


# -- deciding scored pairs -------------------------------------------------------------------


class DuplicateAccounts:
    """Decides the matcher's scored pairs that are duplicate accounts by the rules."""

    def __init__(self, store: Store, rules: Rules) -> None:
        self.store = store
        self.rules = rules
        self.kinds = limited_kinds(rules)
        matching = rules.matching
        self.required = matching.duplicates_require_agreement if matching else ()

    def decide(self, links: Sequence[Link]) -> list[Link]:
        """The matcher's MATCH and REVIEW links with every duplicate-account pair noted
        and decided: a MATCH stays one only where the rule links it and no required field
        counts against it; otherwise it becomes a REVIEW pair. Reads the refs of the
        pairs' records, and the identifiers and their counts of the records of pairs
        within one source: three batched reads at most."""
        if not self.kinds or not links:
            return list(links)
        store = self.store
        refs = store.records.refs(sorted({r for x in links for r in (x.a, x.b)}))
        within = [
            i
            for i, x in enumerate(links)
            if x.a in refs and x.b in refs and refs[x.a].source == refs[x.b].source
        ]
        if not within:
            return list(links)
        held = self.limited_values({r for i in within for r in (links[i].a, links[i].b)})
        decided = list(links)
        for i in within:
            link = links[i]
            found = duplicate_account(
                self.rules, refs[link.a], refs[link.b], held.get(link.a, {}), held.get(link.b, {})
            )
            if found is not None:
                decided[i] = self._decided(link, found)
        return decided

    def limited_values(self, records: Collection[RecordId]) -> dict[RecordId, dict[str, set[str]]]:
        """Each record's linking values of the limited kinds, by kind."""
        store = self.store
        carried = store.records.identifiers_of(sorted(records))
        keys = {i.key for found in carried.values() for i in found if i.kind in self.kinds}
        counts = store.records.identifier_counts(keys) if keys else {}
        linking = {k for k in keys if self.rules.link_block_reason(k, counts.get(k, 0)) is None}
        held: dict[RecordId, dict[str, set[str]]] = {}
        for rid, found in carried.items():
            for identifier in found:
                if identifier.key in linking:
                    held.setdefault(rid, {}).setdefault(identifier.kind, set()).add(
                        identifier.value
                    )
        return held

    def _decided(self, link: Link, found: DuplicateAccount) -> Link:
        fields = link.evidence.get("fields")
        against = tuple(
            name
            for name in self.required
            if isinstance(fields, dict)
            and isinstance(fields.get(name), dict)
            and float(fields[name].get("weight", 0.0)) < 0
        )
        kind: LinkType
        if link.type is not LinkType.MATCH:
            outcome, kind = "uncertain", link.type
        elif found.policy == "link" and not against:
            outcome, kind = "linked", LinkType.MATCH
        else:
            outcome, kind = "held", LinkType.REVIEW
        note = DuplicateNote(
            source=found.source,
            limits={k: self.rules.kinds[k].max_per_profile or 0 for k in found.kinds},
            rule=found.policy,
            outcome=outcome,
            counts_against=against,
        )
        return replace(link, type=kind, evidence={**link.evidence, NOTE: note.document()})
