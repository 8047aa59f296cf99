"""Profiles as connected components of accepted links, with limits and cannot-links enforced.

The partition is a pure function of the records (by their refs), their identifiers and the
stored links: edges are applied in one canonical order (steward must-links, then shared
identifiers by kind priority, then weighted matcher links by weight), never in arrival
order, so the same records always give the same profiles however they were ingested.
A union that would give a profile more distinct values of a kind than the kind's
``max_per_profile`` allows, that would join two records a steward separated, or that a
non-bridging kind (a shared device) would make between two people known by other
identifiers, is refused: the lower-priority evidence gives way. The one exception is a
matcher link between duplicate accounts within one source whose kinds' rules say
``duplicates = "link"`` (identity/duplicates.py): it may join over those kinds' limits,
and the values the two records carry then count as one holder's towards them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain, combinations

from identity.duplicates import duplicate_account
from identity.matching.names import initial_of, same_persons_name
from identity.model import IdentifierKey, Link, LinkType, RecordId, RecordRef
from identity.rules import Rules

DETERMINISTIC = "deterministic"
"""The matcher name on links made by sharing an identifier."""


@dataclass(frozen=True, slots=True)
class RefusedUnion:
    """A link that was not followed, and why; for reports and the stewards' review."""

    a: RecordId
    b: RecordId
    evidence: str
    reason: str


@dataclass(slots=True)
class Clustering:
    """Clusters (each sorted by ref; the list sorted by each cluster's first ref), the
    deterministic links that joined them, and the unions that limits refused."""

    clusters: list[list[RecordId]]
    links: list[Link]
    refused: list[RefusedUnion] = field(default_factory=list)


def _joined(*groups: Iterable[set[str]]) -> list[set[str]]:
    """Groups of values merged wherever they share a value (a holder's accounts)."""
    merged: list[set[str]] = []
    for group in chain(*groups):
        together = set(group)
        apart = []
        for other in merged:
            if other & together:
                together |= other
            else:
                apart.append(other)
        merged = [*apart, together]
    return merged


def _holders(values: set[str], groups: Iterable[set[str]]) -> int:
    """How many holders' values of a kind a component holds: its distinct values, each
    group of values duplicate accounts joined counting once."""
    return len(values) - sum(len(g) - 1 for g in groups)


class _Components:
    """Union-find that also tracks, per component, the limited identifier values it holds
    and the records it must never be joined with (kept only for components that have
    any: most records hold no limited value and no cannot-link)."""

    def __init__(
        self,
        records: Iterable[RecordId],
        limited: Mapping[RecordId, Mapping[str, frozenset[str]]],
        cannot: Mapping[RecordId, set[RecordId]],
        known: Collection[RecordId] = (),
    ) -> None:
        self.parent: dict[RecordId, RecordId] = {r: r for r in records}
        self.members: dict[RecordId, list[RecordId]] = {r: [r] for r in self.parent}
        self.values: dict[RecordId, dict[str, set[str]]] = {
            r: {k: set(v) for k, v in held.items()}
            for r, held in limited.items()
            if held and r in self.parent
        }
        self.cannot: dict[RecordId, set[RecordId]] = {
            r: set(others) for r, others in cannot.items() if others and r in self.parent
        }
        self.known: set[RecordId] = {r for r in known if r in self.parent}
        """Roots of components holding a record with a linking identifier of a bridging kind."""
        self.joined: dict[RecordId, dict[str, list[set[str]]]] = {}
        """Per root, per kind, the groups of values that duplicate-account links declared
        one holder's: each group counts as one value towards the limit."""

    def find(self, r: RecordId) -> RecordId:
        root = r
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[r] != root:
            self.parent[r], r = root, self.parent[r]
        return root

    def refusal(
        self,
        ra: RecordId,
        rb: RecordId,
        limits: Mapping[str, int],
        bridges: bool = True,
        joining: Mapping[str, set[str]] | None = None,
    ) -> str | None:
        """Why joining components ``ra`` and ``rb`` is not allowed, or None. ``bridges``
        False: the evidence is a kind that may not join two known people. ``joining``:
        per kind, values the evidence declares one holder's (duplicate accounts)."""
        small, large = (ra, rb) if len(self.members[ra]) <= len(self.members[rb]) else (rb, ra)
        if any(self.find(p) == large for p in self.cannot.get(small, ())):
            return "cannot_link"
        if not bridges and ra in self.known and rb in self.known:
            return "no_bridge"
        va, vb = self.values.get(ra), self.values.get(rb)
        if not va or not vb:
            return None
        ja, jb = self.joined.get(ra, {}), self.joined.get(rb, {})
        for kind in va.keys() & vb.keys():
            limit = limits[kind]
            if not (ja.get(kind) or jb.get(kind) or (joining and kind in joining)):
                union = len(va[kind] | vb[kind])
                held_a, held_b = len(va[kind]), len(vb[kind])
            else:
                extra = [joining[kind]] if joining and kind in joining else []
                groups = _joined(ja.get(kind, ()), jb.get(kind, ()), extra)
                union = _holders(va[kind] | vb[kind], groups)
                held_a = _holders(va[kind], ja.get(kind, ()))
                held_b = _holders(vb[kind], jb.get(kind, ()))
            # A component already over the limit on its own (one record carrying two
            # customer ids) may still absorb records that add no new value.
            if union > max(limit, held_a, held_b):
                return f"max_per_profile:{kind}"
        return None

    def union(
        self, ra: RecordId, rb: RecordId, joining: Mapping[str, set[str]] | None = None
    ) -> None:
        if len(self.members[ra]) < len(self.members[rb]):
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.members[ra].extend(self.members.pop(rb))
        moved = self.values.pop(rb, None)
        if moved:
            held = self.values.setdefault(ra, {})
            for kind, vals in moved.items():
                held.setdefault(kind, set()).update(vals)
        groups_b = self.joined.pop(rb, {})
        if groups_b or joining:
            groups_a = self.joined.get(ra, {})
            kinds = groups_a.keys() | groups_b.keys() | (joining or {}).keys()
            extra = joining or {}
            self.joined[ra] = {
                kind: _joined(
                    groups_a.get(kind, ()),
                    groups_b.get(kind, ()),
                    [extra[kind]] if kind in extra else [],
                )
                for kind in kinds
            }
        separated = self.cannot.pop(rb, None)
        if separated:
            self.cannot.setdefault(ra, set()).update(separated)
        if rb in self.known:
            self.known.discard(rb)
            self.known.add(ra)


def split_by_attribute(
    members: list[RecordId], attribute: str, attributes: Mapping[RecordId, Mapping[str, str]]
) -> list[list[RecordId]]:
    """Members of one identifier group, divided into the people their (normalised)
    ``attribute`` names, each part in ``members`` order. Two names written out are one
    person's when the matcher's first-name levels say so (:func:`same_persons_name`: the
    same name, or a nickname or other form of it); an initial is one person's with any
    of their names it begins (``r`` with robert, known as bob).

    A value that could be either of two people (``chris`` sharing a phone with
    christopher and christina; ``j`` with john and jane) is treated like a record
    without a value: it joins a part only if it fits exactly one (so a record without a
    value joins the only part if there is exactly one); otherwise the identifier does not
    link it: it could belong to any of the people sharing it.
    """
    named: dict[str, list[RecordId]] = {}
    unnamed: list[RecordId] = []
    for r in members:
        value = attributes.get(r, {}).get(attribute)
        if value:
            named.setdefault(value, []).append(r)
        else:
            unnamed.append(r)
    if not named:
        return [unnamed]
    written = [v for v in sorted(named) if initial_of(v) is None]
    initials = [v for v in sorted(named) if initial_of(v) is not None]
    agrees = {v: [w for w in written if w != v and same_persons_name(v, w)] for v in written}
    # Among names that agree with no two names disagreeing with each other, one person's
    # name is an equivalence: such a name agrees with the names of one part at most.
    ambiguous = [
        v
        for v in written
        if any(not same_persons_name(b, c) for b, c in combinations(agrees[v], 2))
    ]
    parts: list[list[str]] = []
    for v in written:
        if v in ambiguous:
            continue
        home = next((part for part in parts if same_persons_name(v, part[0])), None)
        if home is None:
            parts.append([v])
        else:
            home.append(v)
    joined: list[list[str]] = [list(part) for part in parts]
    left: list[list[str]] = []
    for v in (*ambiguous, *initials):
        # A name written out must be every name of the part's; an initial, one of them.
        fits = any if v in initials else all
        found = [i for i, part in enumerate(parts) if fits(same_persons_name(v, w) for w in part)]
        if len(found) == 1:
            joined[found[0]].append(v)
        elif not found:
            # Fits nobody named here: with the values like it (``j``, ``j.``).
            home = next((part for part in left if same_persons_name(v, part[0])), None)
            if home is None:
                left.append([v])
            else:
                home.append(v)
    groups = [{r for v in part for r in named[v]} for part in (*joined, *left)]
    if len(groups) == 1:
        groups[0].update(unnamed)
    return [[r for r in members if r in group] for group in groups]


def cluster(
    refs: Mapping[RecordId, RecordRef],
    identifiers: Mapping[RecordId, Collection[IdentifierKey]],
    linking: Collection[IdentifierKey],
    links: Sequence[Link],
    rules: Rules,
    attributes: Mapping[RecordId, Mapping[str, str]] | None = None,
) -> Clustering:
    """Partition ``refs`` into profiles.

    ``identifiers`` are each record's identifier keys; only those in ``linking`` (kind
    links, not blocklisted, under its cardinality cap) join records or count towards
    limits. ``links`` are the stored links among these records: MUST_LINK and
    CANNOT_LINK from stewards and MATCH links from weighted matchers; deterministic
    links in it are ignored (they are this function's output, not its input).
    ``attributes`` holds, per record, the normalised attributes that kinds with a
    ``same_attribute`` rule compare (absent: treated as unknown).
    """
    linking_set = set(linking)
    limits = {
        kind: rule.max_per_profile
        for kind, rule in rules.kinds.items()
        if rule.max_per_profile is not None
    }
    limited: dict[RecordId, dict[str, frozenset[str]]] = {}
    groups: dict[IdentifierKey, list[RecordId]] = {}
    known: set[RecordId] = set()
    for r, keys in identifiers.items():
        if r not in refs:
            continue
        per_kind: dict[str, set[str]] = {}
        for key in keys:
            if key not in linking_set:
                continue
            groups.setdefault(key, []).append(r)
            if rules.kinds[key.kind].bridges:
                known.add(r)
            if key.kind in limits:
                per_kind.setdefault(key.kind, set()).add(key.value)
        limited[r] = {k: frozenset(v) for k, v in per_kind.items()}

    cannot: dict[RecordId, set[RecordId]] = {}
    must: list[Link] = []
    matches: list[Link] = []
    for link in links:
        if link.a not in refs or link.b not in refs:
            continue
        if link.type is LinkType.CANNOT_LINK:
            cannot.setdefault(link.a, set()).add(link.b)
            cannot.setdefault(link.b, set()).add(link.a)
        elif link.type is LinkType.MUST_LINK:
            must.append(link)
        elif link.type is LinkType.MATCH and link.matcher != DETERMINISTIC:
            matches.append(link)

    comps = _Components(refs, limited, cannot, known)
    made: list[Link] = []
    refused: list[RefusedUnion] = []

    def by_ref(link: Link) -> tuple[RecordRef, RecordRef]:
        # Which end is `a` follows record ids, so order each pair by its refs: the
        # partition must not depend on the ids records happened to get.
        a, b = refs[link.a], refs[link.b]
        return (a, b) if a <= b else (b, a)

    # Steward decisions first and unconditionally: a must-link is the final word.
    for link in sorted(must, key=by_ref):
        ra, rb = comps.find(link.a), comps.find(link.b)
        if ra != rb:
            comps.union(ra, rb)

    # Shared identifiers, strongest kind first. Within a group, each record joins the
    # first earlier member (in ref order) whose component accepts it.
    def group_order(key: IdentifierKey) -> tuple[int, str, str]:
        return (-rules.kinds[key.kind].priority, key.kind, key.value)

    subgroups: list[tuple[IdentifierKey, list[RecordId]]] = []
    for key in sorted(groups, key=group_order):
        members = sorted(groups[key], key=refs.__getitem__)
        attribute = rules.kinds[key.kind].same_attribute
        if attribute is None:
            subgroups.append((key, members))
        else:
            subgroups.extend(
                (key, part) for part in split_by_attribute(members, attribute, attributes or {})
            )
    for key, members in subgroups:
        for i, r in enumerate(members):
            tried: set[RecordId] = set()
            last_reason: str | None = None
            for earlier in members[:i]:
                ra, rb = comps.find(earlier), comps.find(r)
                if ra == rb:
                    last_reason = None
                    break
                if ra in tried:
                    continue
                tried.add(ra)
                reason = comps.refusal(ra, rb, limits, rules.kinds[key.kind].bridges)
                if reason is None:
                    comps.union(ra, rb)
                    made.append(
                        Link(
                            earlier,
                            r,
                            LinkType.MATCH,
                            DETERMINISTIC,
                            1.0,
                            {"kind": key.kind, "value": key.value},
                        )
                    )
                    last_reason = None
                    break
                last_reason = reason
            if last_reason is not None:
                refused.append(RefusedUnion(members[0], r, f"{key.kind}:{key.value}", last_reason))

    # Weighted matcher links, strongest first.
    for link in sorted(matches, key=lambda x: (-x.weight, *by_ref(x))):
        ra, rb = comps.find(link.a), comps.find(link.b)
        if ra == rb:
            continue
        reason = comps.refusal(ra, rb, limits)
        if reason is not None and reason.startswith("max_per_profile:"):
            # Duplicate accounts within one source whose kinds' rules say "link": the
            # two records' own values count as one holder's (the matcher made the pair a
            # MATCH only if no required field counts against it).
            held_a, held_b = limited.get(link.a, {}), limited.get(link.b, {})
            found = duplicate_account(rules, refs[link.a], refs[link.b], held_a, held_b)
            if found is not None and found.policy == "link":
                joining = {k: set(held_a[k]) | set(held_b[k]) for k in found.kinds}
                if comps.refusal(ra, rb, limits, joining=joining) is None:
                    comps.union(ra, rb, joining)
                    continue
        if reason is None:
            comps.union(ra, rb)
        else:
            refused.append(RefusedUnion(link.a, link.b, link.matcher, reason))

    clusters = [sorted(m, key=refs.__getitem__) for m in comps.members.values()]
    clusters.sort(key=lambda c: refs[c[0]])
    return Clustering(clusters=clusters, links=made, refused=refused)
