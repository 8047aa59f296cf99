"""Inspecting identity clusters for stewards: a profile's subgraph sized to read, why two of
its records are one person (paths over the evidence that joined them), and which profiles
look over-merged (conflicting strong identifiers, cuts that would split them, outsized ones).

Everything here reads through the store interface in batches and computes with networkx
on one cluster at a time; nothing is written except the cached ranking of suspicious
clusters (a metadata document).
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, cast

import networkx as nx
from rapidfuzz.distance import DamerauLevenshtein

from identity.clustering import DETERMINISTIC, split_by_attribute
from identity.cursors import decode_cursor, encode_cursor
from identity.errors import InvalidArgument, InvalidCursor, UnknownProfile
from identity.matching.comparisons import date_comparison, name_comparison
from identity.matching.names import name_forms
from identity.model import (
    IdentifierFlagReason,
    IdentifierKey,
    JSONValue,
    Link,
    LinkType,
    ProfileId,
    RecordId,
    RecordRef,
    StoredRecord,
)
from identity.normalise import normalise_name
from identity.rules import Rules
from identity.store.base import Store

DISPLAY_ATTRIBUTES = ("first_name", "last_name", "birth_date", "city", "postcode")
"""The attributes a cluster view shows per record: enough to tell people apart."""
MAX_RECORDS = 200
"""Records a cluster view shows before it says ``truncated``."""
RANKING_KEY = "suspicious_clusters"
"""The metadata document caching the last ranking of suspicious clusters."""
STEWARD_TYPES = (LinkType.MUST_LINK, LinkType.CANNOT_LINK)

# -- values --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Contribution:
    """One compared field of a probabilistic link: its level and weight (log2 m/u)."""

    field: str
    level: str
    weight: float


@dataclass(frozen=True, slots=True)
class ClusterRecord:
    record_id: RecordId
    ref: RecordRef
    timestamp: datetime | None
    attributes: dict[str, JSONValue]
    identifiers: tuple[IdentifierKey, ...]


@dataclass(frozen=True, slots=True)
class ClusterIdentifier:
    """An identifier held by the cluster's records: whether it links and how widely."""

    key: IdentifierKey
    links: bool
    not_linking_reason: str | None
    record_count: int
    """Records in the whole store carrying it."""
    records: tuple[RecordRef, ...]
    """The cluster's records carrying it (of those shown)."""


@dataclass(frozen=True, slots=True)
class ClusterLink:
    """A stored link as a steward reads it. ``other_profile`` is set when ``b`` (or ``a``)
    lies outside the cluster: a review pair, a cannot-link, or a match limits refused."""

    a: RecordRef
    b: RecordRef
    type: LinkType
    matcher: str
    weight: float
    evidence: dict[str, JSONValue]
    other_profile: ProfileId | None = None

    @property
    def identifier(self) -> IdentifierKey | None:
        kind, value = self.evidence.get("kind"), self.evidence.get("value")
        if self.matcher == DETERMINISTIC and isinstance(kind, str) and isinstance(value, str):
            return IdentifierKey(kind, value)
        return None

    @property
    def match_weight(self) -> float | None:
        return _number(self.evidence.get("match_weight"))

    @property
    def probability(self) -> float | None:
        return _number(self.evidence.get("match_probability"))

    @property
    def contributions(self) -> tuple[Contribution, ...]:
        return contributions_of(self.evidence)


@dataclass(frozen=True, slots=True)
class Cluster:
    """A profile's subgraph: records (first ``MAX_RECORDS`` by ref), the identifiers they
    hold, the links among them and those leaving the profile."""

    profile_id: ProfileId
    requested_id: str
    size: int
    truncated: bool
    records: tuple[ClusterRecord, ...]
    identifiers: tuple[ClusterIdentifier, ...]
    links: tuple[ClusterLink, ...]
    external_links: tuple[ClusterLink, ...]

    @property
    def steward_links(self) -> tuple[ClusterLink, ...]:
        return tuple(x for x in (*self.links, *self.external_links) if x.type in STEWARD_TYPES)


class EvidenceKind:
    SHARED_IDENTIFIER = "shared_identifier"
    PROBABILISTIC = "probabilistic"
    STEWARD = "steward"


@dataclass(frozen=True, slots=True)
class HopEvidence:
    """One reason two records are joined: a shared identifier, a probabilistic match (its
    weight and each field's contribution) or a steward's must-link."""

    kind: str
    matcher: str
    identifier: IdentifierKey | None = None
    match_weight: float | None = None
    probability: float | None = None
    contributions: tuple[Contribution, ...] = ()
    details: dict[str, JSONValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Hop:
    source: RecordRef
    target: RecordRef
    evidence: tuple[HopEvidence, ...]


@dataclass(frozen=True, slots=True)
class LinkPath:
    hops: tuple[Hop, ...]


@dataclass(frozen=True, slots=True)
class LinkExplained:
    """The paths joining two records of one profile, shortest first; the others share no
    hop with it or each other (edge-disjoint)."""

    profile_id: ProfileId
    a: RecordRef
    b: RecordRef
    paths: tuple[LinkPath, ...]


@dataclass(frozen=True, slots=True)
class RecordsNotLinked:
    a: RecordRef
    b: RecordRef
    profile_a: ProfileId | None
    profile_b: ProfileId | None


@dataclass(frozen=True, slots=True)
class UnknownRecord:
    ref: RecordRef


Explanation = LinkExplained | RecordsNotLinked | UnknownRecord


Show = Callable[[str, str, str], str]
"""How a personal value shows: ``(what, name, value) -> shown``, where ``what`` is
``"identifier"`` (``name`` its kind) or ``"attribute"`` (``name`` the attribute)."""

_CONFLICTS = {
    "conflicting_birth_dates": ("birth_date", "birth dates"),
    "conflicting_first_names": ("first_name", "first names"),
}
"""Reason types of conflicting attribute values: the attribute and how a message names it."""


def _conflict_message(what: str, groups: Sequence[Mapping[str, Any]]) -> str:
    shown = ", ".join(
        f"{'/'.join(g['values'])} ({g.get('count', len(g['records']))})" for g in groups[:4]
    )
    return f"{len(groups)} unrelated {what}: {shown}"


def _identifier_label(kind: str, value: str) -> str:
    return f"the shared {kind} {value}"


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a cluster looks over-merged: a type, a sentence and the facts behind it."""

    type: str
    message: str
    score: float
    details: dict[str, JSONValue] = field(default_factory=dict)

    def to_document(self) -> dict[str, JSONValue]:
        return {"type": self.type, "message": self.message, "score": self.score} | {
            "details": self.details
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Reason:
        return cls(str(doc["type"]), str(doc["message"]), float(doc["score"]), doc["details"])

    def masked(self, show: Show) -> Reason:
        """The reason with every personal value passed through ``show`` (an identifier
        value as ``show("identifier", kind, value)``, an attribute value as
        ``show("attribute", name, value)``), in its details and its message alike; the
        type, score, sizes, counts and record references stay as they are."""
        details = dict(self.details)
        message = self.message
        if self.type == "conflicting_identifiers" and isinstance(details.get("values"), dict):
            kind = str(details.get("kind"))
            held = cast(dict[str, JSONValue], details["values"])
            details["values"] = {show("identifier", kind, v): refs for v, refs in held.items()}
        elif self.type in _CONFLICTS and isinstance(details.get("groups"), list):
            name, what = _CONFLICTS[self.type]
            groups: list[JSONValue] = []
            for group in cast(list[dict[str, Any]], details["groups"]):
                values = [show("attribute", name, str(v)) for v in group["values"]]
                groups.append({**group, "values": values})
            details["groups"] = groups
            message = _conflict_message(what, cast(list[dict[str, Any]], groups))
        elif self.type in ("cut_splits_cluster", "weak_link_holds_cluster"):
            cut = details.get("cut_identifier")
            if isinstance(cut, dict):
                kind, value = str(cut["kind"]), str(cut["value"])
                label = _identifier_label(kind, show("identifier", kind, value))
                message = message.replace(str(details["cut"]), label, 1)
                details["cut"] = label
                details["cut_identifier"] = {"kind": kind, "value": show("identifier", kind, value)}
            elif "the shared " in str(details.get("cut", "")):  # a ranking cached before
                message = f"{self.type.replace('_', ' ')} (the values need the pii:read scope)"
                details = {k: v for k, v in details.items() if k not in ("cut",)}
        return Reason(self.type, message, self.score, details)


@dataclass(frozen=True, slots=True)
class Suspicion:
    profile_id: ProfileId
    size: int
    score: float
    reasons: tuple[Reason, ...]

    def to_document(self) -> dict[str, JSONValue]:
        return {
            "profile_id": self.profile_id,
            "size": self.size,
            "score": self.score,
            "reasons": [r.to_document() for r in self.reasons],
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Suspicion:
        return cls(
            str(doc["profile_id"]),
            int(doc["size"]),
            float(doc["score"]),
            tuple(Reason.from_document(r) for r in doc["reasons"]),
        )


@dataclass(frozen=True, slots=True)
class SuspiciousPage:
    entries: tuple[tuple[int, Suspicion], ...]
    """(rank from 1, suspicion), best first."""
    total: int
    has_next_page: bool
    end_cursor: str | None
    computed_at: datetime
    profiles_analysed: int
    size_threshold: int
    cursors: tuple[str, ...]
    """The cursor of each entry, in order: pass one as ``after`` for the entries below it."""


@dataclass(frozen=True, slots=True)
class SuspicionSettings:
    """How much each signal adds to a cluster's score (data, so it can be tuned)."""

    conflicting_identifier: float = 5.0
    """A kind limited to one value per profile (customer id, loyalty id) holds several."""
    over_limit_identifier: float = 2.0
    """A kind with a larger limit (e-mails, phones) holds more than its limit."""
    conflicting_birth_dates: float = 4.0
    conflicting_first_names: float = 3.0
    vetoed_pair: float = 1.5
    """Two of its records the matcher put in review because a required field disagrees."""
    contested_record: float = 1.5
    """A record with a matcher link to another profile (a union limits refused)."""
    cut: float = 1.0
    """A record, identifier or link whose removal splits it into parts of 2+ records."""
    conflict_across_cut: float = 3.0
    """... and the parts carry conflicting first names, birth dates or limited ids."""
    weak_bridge: float = 1.5
    """... and that cut is one probabilistic link below ``weak_match_weight``."""
    weak_match_weight: float = 10.0
    large_cluster: float = 2.0
    large_percentile: float = 99.9
    min_large_size: int = 10
    """Clusters this size or below are never "large", whatever the distribution."""
    min_part: int = 2
    """A cut counts only when its second-largest part has at least this many records."""
    max_cut_records: int = 5000
    """Clusters above this size are not searched for cuts (the size signal covers them)."""


# -- loading clusters in batches -------------------------------------------------------------


@dataclass(slots=True)
class _Loaded:
    """What the store says about a batch of profiles, read in a few batched calls."""

    members: dict[ProfileId, list[RecordId]]
    records: dict[RecordId, StoredRecord]
    identifiers: dict[RecordId, list[IdentifierKey]]
    counts: dict[IdentifierKey, int]
    links: dict[RecordId, list[Link]]
    profile_of: dict[RecordId, ProfileId]
    """The profile of every record of the batch and of every record its links reach."""


def _load(store: Store, profile_ids: Collection[ProfileId]) -> _Loaded:
    members = store.profiles.records_of(profile_ids)
    record_ids = [r for ids in members.values() for r in ids]
    records = store.records.get(record_ids)
    held = store.records.identifiers_of(record_ids)
    identifiers = {rid: sorted({i.key for i in idents}) for rid, idents in held.items()}
    counts = store.records.identifier_counts({k for keys in identifiers.values() for k in keys})
    by_record: dict[RecordId, list[Link]] = {}
    known = set(record_ids)
    outside_ids: set[RecordId] = set()
    for link in store.links.of(record_ids):
        for end in (link.a, link.b):
            if end in known:
                by_record.setdefault(end, []).append(link)
            else:
                outside_ids.add(end)
    profile_of = {r: pid for pid, ids in members.items() for r in ids}
    if outside_ids:
        profile_of.update(store.profiles.ids_of(outside_ids))
    return _Loaded(members, records, identifiers, counts, by_record, profile_of)


@dataclass(slots=True)
class _ClusterData:
    """One profile's records, identifiers and links, ready for the graphs."""

    profile_id: ProfileId
    records: dict[RecordId, StoredRecord]
    identifiers: dict[RecordId, list[IdentifierKey]]
    counts: dict[IdentifierKey, int]
    internal: list[Link]
    external: list[tuple[Link, ProfileId | None]]

    @classmethod
    def of(cls, loaded: _Loaded, profile_id: ProfileId) -> _ClusterData:
        ids = loaded.members.get(profile_id, [])
        mine = set(ids)
        internal: dict[tuple[RecordId, RecordId, LinkType, str], Link] = {}
        external: list[tuple[Link, ProfileId | None]] = []
        for rid in ids:
            for link in loaded.links.get(rid, []):
                other = link.b if link.a == rid else link.a
                if other in mine:
                    internal[link.a, link.b, link.type, link.matcher] = link
                else:
                    external.append((link, loaded.profile_of.get(other)))
        return cls(
            profile_id,
            {r: loaded.records[r] for r in ids if r in loaded.records},
            {r: loaded.identifiers.get(r, []) for r in ids},
            loaded.counts,
            [internal[k] for k in sorted(internal)],
            external,
        )

    def ref(self, rid: RecordId) -> RecordRef:
        return self.records[rid].ref

    def ordered(self) -> list[RecordId]:
        return sorted(self.records, key=self.ref)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def contributions_of(evidence: Mapping[str, JSONValue]) -> tuple[Contribution, ...]:
    """Per-field contributions of a probabilistic link's evidence (empty for others)."""
    fields = evidence.get("fields")
    if not isinstance(fields, dict):
        return ()
    found = []
    for name, value in fields.items():
        if isinstance(value, dict):
            weight = _number(value.get("weight"))
            found.append(Contribution(str(name), str(value.get("level")), weight or 0.0))
    return tuple(found)


# -- the graphs ------------------------------------------------------------------------------


class _Groups:
    """The identifier groups that link records of one cluster, as clustering forms them:
    linking identifiers only, split by ``same_attribute`` (a household phone joins only
    records whose first names agree)."""

    def __init__(self, data: _ClusterData, rules: Rules) -> None:
        compared = {r.same_attribute for r in rules.kinds.values() if r.same_attribute}
        attributes = {
            rid: {
                name: normalise_name(str(rec.record.attributes[name]))
                for name in compared
                if rec.record.attributes.get(name) not in (None, "")
            }
            for rid, rec in data.records.items()
        }
        by_key: dict[IdentifierKey, list[RecordId]] = {}
        for rid, keys in data.identifiers.items():
            for key in keys:
                if _links(rules, key, data.counts.get(key, 0)):
                    by_key.setdefault(key, []).append(rid)
        self.groups: list[tuple[IdentifierKey, list[RecordId]]] = []
        for key in sorted(by_key):
            members = sorted(by_key[key], key=data.ref)
            attribute = rules.kinds[key.kind].same_attribute
            parts = (
                [members]
                if attribute is None
                else split_by_attribute(members, attribute, attributes)
            )
            self.groups.extend((key, part) for part in parts if len(part) > 1)


def _links(rules: Rules, key: IdentifierKey, count: int) -> bool:
    rule = rules.kinds.get(key.kind)
    return rule is not None and rule.links and rules.link_block_reason(key, count) is None


def _hop_evidence(link: Link) -> HopEvidence | None:
    if link.type is LinkType.MUST_LINK:
        return HopEvidence(EvidenceKind.STEWARD, link.matcher, details=dict(link.evidence))
    if link.type is not LinkType.MATCH:
        return None
    if link.matcher == DETERMINISTIC:
        kind, value = link.evidence.get("kind"), link.evidence.get("value")
        key = (
            IdentifierKey(kind, value) if isinstance(kind, str) and isinstance(value, str) else None
        )
        return HopEvidence(EvidenceKind.SHARED_IDENTIFIER, link.matcher, identifier=key)
    return HopEvidence(
        EvidenceKind.PROBABILISTIC,
        link.matcher,
        match_weight=_number(link.evidence.get("match_weight")),
        probability=_number(link.evidence.get("match_probability")) or link.weight,
        contributions=contributions_of(link.evidence),
        details=dict(link.evidence),
    )


# A path prefers shared identifiers and stewards' decisions to probabilistic matches of
# the same length: they are what a steward checks fastest.
_COST = {EvidenceKind.SHARED_IDENTIFIER: 1.0, EvidenceKind.STEWARD: 1.0}
_PROBABILISTIC_COST = 1.1
_CLIQUE_LIMIT = 50


def evidence_graph(data: _ClusterData, rules: Rules) -> nx.Graph:
    """Records as nodes; an edge wherever records share a linking identifier (within its
    ``same_attribute`` part), hold a probabilistic MATCH link or a steward's must-link.
    Each edge keeps every piece of evidence in ``evidence`` and its cheapest ``cost``."""
    graph = nx.Graph()
    graph.add_nodes_from(data.records)

    def add(a: RecordId, b: RecordId, evidence: HopEvidence) -> None:
        cost = _COST.get(evidence.kind, _PROBABILISTIC_COST)
        if graph.has_edge(a, b):
            attrs = graph.edges[a, b]
            if evidence not in attrs["evidence"]:
                attrs["evidence"].append(evidence)
            attrs["cost"] = min(attrs["cost"], cost)
        else:
            graph.add_edge(a, b, evidence=[evidence], cost=cost)

    for key, members in _Groups(data, rules).groups:
        shared = HopEvidence(EvidenceKind.SHARED_IDENTIFIER, DETERMINISTIC, identifier=key)
        # A big group is a star from its first record: the same connectivity, linear edges.
        pairs = (
            itertools.combinations(members, 2)
            if len(members) <= _CLIQUE_LIMIT
            else ((members[0], m) for m in members[1:])
        )
        for a, b in pairs:
            add(a, b, shared)
    for link in data.internal:
        evidence = _hop_evidence(link)
        if evidence is not None:
            add(link.a, link.b, evidence)
    return graph


def find_paths(
    graph: nx.Graph, a: RecordId, b: RecordId, alternatives: int = 2
) -> list[list[RecordId]]:
    """The cheapest path from ``a`` to ``b`` (by edge ``cost``), then up to ``alternatives``
    more, each the cheapest once the edges of the earlier ones are removed (so the paths
    are edge-disjoint). [] when ``b`` is unreachable."""
    work = graph.copy()
    paths: list[list[RecordId]] = []
    for _ in range(alternatives + 1):
        try:
            path: list[RecordId] = nx.shortest_path(work, a, b, weight="cost")
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            break
        paths.append(path)
        work.remove_edges_from(itertools.pairwise(path))
    return paths


# -- over-merge signals ----------------------------------------------------------------------

_FIRST_NAMES = name_comparison("first_name", nicknames=True)
_DATES = date_comparison("birth_date")
_NAME_CONFLICT = {len(_FIRST_NAMES.levels) - 1}
"""Only "else": nicknames, spellings and one typo are one name, as the matcher's veto has it."""
_DATE_CONFLICT = {i for i, name in enumerate(_DATES.level_names) if name in ("same_year", "else")}
"""A swapped day and month or one typo is the same date mistyped."""


@lru_cache(maxsize=1 << 16)
def _names_conflict(a: str, b: str) -> bool:
    """Unrelated first names. Looser than the matcher's veto, since both sides may be
    mistyped: two typos apart (``frakn``/``frnak``) or a typo of a nickname
    (``daev``/``david``) is one name too."""
    if int(_FIRST_NAMES.compare([a], [b])[0]) not in _NAME_CONFLICT:
        return False
    if min(len(a), len(b)) >= 4 and DamerauLevenshtein.distance(a, b) <= 2:
        return False
    return not any(
        DamerauLevenshtein.distance(form, y) <= 1
        for x, y in ((a, b), (b, a))
        for form in name_forms(x)
    )


@lru_cache(maxsize=1 << 16)
def _dates_conflict(a: str, b: str) -> bool:
    return int(_DATES.compare([a], [b])[0]) in _DATE_CONFLICT


def _value_groups(
    values: Mapping[RecordId, str], conflict: Any
) -> list[tuple[list[str], list[RecordId]]]:
    """Distinct values joined where they do not conflict (a nickname joins its name),
    each group with its values and records; largest group first."""
    distinct = sorted(set(values.values()))
    parent = {v: v for v in distinct}

    def find(v: str) -> str:
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    for x, y in itertools.combinations(distinct, 2):
        if not conflict(x, y):
            parent[find(x)] = find(y)
    groups: dict[str, tuple[list[str], list[RecordId]]] = {}
    for v in distinct:
        groups.setdefault(find(v), ([], []))[0].append(v)
    for rid, v in sorted(values.items()):
        groups[find(v)][1].append(rid)
    return sorted(groups.values(), key=lambda g: (-len(g[1]), g[0]))


@dataclass(slots=True)
class _Conflicts:
    """Per record, the label of the value group it falls in, per conflicting attribute
    (so a cut can say whether its parts disagree)."""

    labels: dict[str, dict[RecordId, int]] = field(default_factory=dict)

    def across(self, parts: Sequence[Collection[RecordId]]) -> list[str]:
        """Attributes on which two of ``parts`` hold only conflicting values."""
        found = []
        for name, labels in self.labels.items():
            seen = [{labels[r] for r in part if r in labels} for part in parts]
            seen = [s for s in seen if s]
            if any(not (x & y) for x, y in itertools.combinations(seen, 2)):
                found.append(name)
        return found


def _attribute_values(data: _ClusterData, name: str, clean: Any) -> dict[RecordId, str]:
    values = {}
    for rid, rec in data.records.items():
        raw = rec.record.attributes.get(name)
        if raw not in (None, ""):
            text = clean(str(raw))
            if text:
                values[rid] = text
    return values


def _refs(data: _ClusterData, ids: Iterable[RecordId], limit: int = 10) -> list[JSONValue]:
    return [list(data.ref(r)) for r in sorted(ids, key=data.ref)[:limit]]


def assess(
    data: _ClusterData,
    rules: Rules,
    settings: SuspicionSettings,
    size_threshold: int | None = None,
) -> Suspicion:
    """Score one cluster by every over-merge signal; each signal that fires is a reason."""
    reasons: list[Reason] = []
    conflicts = _Conflicts()
    size = len(data.records)

    # Strong identifiers: more linking values of a limited kind than the limit allows.
    limited: dict[str, dict[str, list[RecordId]]] = {}
    for rid, keys in data.identifiers.items():
        for key in keys:
            rule = rules.kinds.get(key.kind)
            if rule and rule.max_per_profile and _links(rules, key, data.counts.get(key, 0)):
                limited.setdefault(key.kind, {}).setdefault(key.value, []).append(rid)
    for kind, by_value in sorted(limited.items()):
        limit = rules.kinds[kind].max_per_profile or 0
        if len(by_value) <= limit:
            continue
        strong = limit == 1
        weight = settings.conflicting_identifier if strong else settings.over_limit_identifier
        reasons.append(
            Reason(
                "conflicting_identifiers",
                f"{len(by_value)} different {kind} values in one profile (at most {limit} "
                "expected)",
                weight,
                {
                    "kind": kind,
                    "limit": limit,
                    "values": {v: _refs(data, ids) for v, ids in sorted(by_value.items())},
                },
            )
        )
        if strong:
            conflicts.labels[kind] = {}
            for index, (_, ids) in enumerate(sorted(by_value.items())):
                for rid in ids:
                    # A record holding two values belongs to both sides; label it by its first.
                    conflicts.labels[kind].setdefault(rid, index)

    for reason_type, clean, conflict, weight in (
        ("conflicting_birth_dates", str.strip, _dates_conflict, settings.conflicting_birth_dates),
        (
            "conflicting_first_names",
            normalise_name,
            _names_conflict,
            settings.conflicting_first_names,
        ),
    ):
        name, what = _CONFLICTS[reason_type]
        values = _attribute_values(data, name, clean)
        groups = _value_groups(values, conflict)
        if len(groups) > 1:
            described: list[dict[str, Any]] = [
                {"values": vals, "count": len(ids), "records": _refs(data, ids)}
                for vals, ids in groups
            ]
            reasons.append(
                Reason(
                    reason_type,
                    _conflict_message(what, described),
                    weight,
                    {"groups": cast(list[JSONValue], described)},
                )
            )
            conflicts.labels[name] = {rid: i for i, (_, ids) in enumerate(groups) for rid in ids}

    vetoed = [
        link
        for link in data.internal
        if link.type is LinkType.REVIEW and link.evidence.get("disagrees_on")
    ]
    if vetoed:
        fields = sorted({str(f) for x in vetoed for f in _as_list(x.evidence["disagrees_on"])})
        reasons.append(
            Reason(
                "matcher_vetoed_pair",
                f"{len(vetoed)} pair(s) of its records the matcher refused to link "
                f"(they disagree on {', '.join(fields)})",
                settings.vetoed_pair,
                {"pairs": [[list(data.ref(x.a)), list(data.ref(x.b))] for x in vetoed[:10]]},
            )
        )

    contested = [
        (link, owner)
        for link, owner in data.external
        if link.type is LinkType.MATCH and link.matcher != DETERMINISTIC and owner is not None
    ]
    if contested:
        others = sorted({owner for _, owner in contested if owner})
        reasons.append(
            Reason(
                "contested_records",
                f"{len(contested)} matcher link(s) from its records to {len(others)} other "
                "profile(s), refused by limits or cannot-links",
                settings.contested_record,
                {"other_profiles": list(others[:10])},
            )
        )

    if size_threshold is not None and size > size_threshold:
        reasons.append(_large_reason(size, size_threshold, settings))

    if settings.min_part <= size <= settings.max_cut_records:
        reasons.extend(_cut_reasons(data, rules, settings, conflicts))

    score = round(sum(r.score for r in reasons), 3)
    reasons.sort(key=lambda r: -r.score)
    return Suspicion(data.profile_id, size, score, tuple(reasons))


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else [value]


def _cut_reasons(
    data: _ClusterData, rules: Rules, settings: SuspicionSettings, conflicts: _Conflicts
) -> list[Reason]:
    """The best cut of the cluster: an identifier, record or single link whose removal
    splits it, preferring cuts whose parts conflict, then weak links, then balance."""
    graph, labels = _identity_graph(data, rules)
    cuts = list(_cuts(graph, set(data.records)))
    best: tuple[tuple[int, int, int], Reason] | None = None
    for node, parts, link in cuts:
        sizes = sorted((len(p) for p in parts), reverse=True)
        if len(sizes) < 2 or sizes[1] < settings.min_part:
            continue
        across = conflicts.across(parts)
        weak = (
            link is not None
            and link.matcher != DETERMINISTIC
            and link.type is LinkType.MATCH
            and (_number(link.evidence.get("match_weight")) or 0.0) < settings.weak_match_weight
        )
        score = settings.cut
        if across:
            score += settings.conflict_across_cut
        if weak:
            score += settings.weak_bridge
        what = labels(node, link)
        message = f"removing {what} splits it into parts of {', '.join(map(str, sizes))} records"
        if across:
            message += f" that disagree on {', '.join(across)}"
        details: dict[str, JSONValue] = {
            "cut": what,
            "part_sizes": sizes,
            "parts": [_refs(data, p, 5) for p in sorted(parts, key=len, reverse=True)],
        }
        if across:
            details["disagree_on"] = across
        if node is not None and node[0] == "i":
            key = node[1][0]
            details["cut_identifier"] = {"kind": key.kind, "value": key.value}
        if link is not None:
            details["link"] = {
                "a": list(data.ref(link.a)),
                "b": list(data.ref(link.b)),
                "matcher": link.matcher,
                "match_weight": _number(link.evidence.get("match_weight")),
            }
        rank = (len(across), int(weak), sizes[1])
        reason = Reason(
            "weak_link_holds_cluster" if weak else "cut_splits_cluster",
            message,
            round(score, 3),
            details,
        )
        if best is None or rank > best[0]:
            best = (rank, reason)
    return [best[1]] if best else []


Node = tuple[str, Any]
"""("r", record id) or ("i", (identifier key, part index))."""


def _identity_graph(data: _ClusterData, rules: Rules) -> tuple[nx.Graph, Any]:
    """Records and the identifier groups that link them as nodes (record-has-identifier
    edges), plus record-record edges for probabilistic matches and must-links: where a
    shared identifier's removal would split the cluster, the identifier is the cut."""
    graph = nx.Graph()
    graph.add_nodes_from(("r", r) for r in data.records)
    for index, (key, members) in enumerate(_Groups(data, rules).groups):
        node = ("i", (key, index))
        graph.add_edges_from((node, ("r", m)) for m in members)
    for link in data.internal:
        if link.type is LinkType.MUST_LINK or (
            link.type is LinkType.MATCH and link.matcher != DETERMINISTIC
        ):
            current = graph.get_edge_data(("r", link.a), ("r", link.b))
            # Keep the strongest evidence between two records: a must-link outranks a match.
            if current is None or link.type is LinkType.MUST_LINK:
                graph.add_edge(("r", link.a), ("r", link.b), link=link)

    def label(node: Node | None, link: Link | None) -> str:
        if link is not None:
            a, b = data.ref(link.a), data.ref(link.b)
            kind = "must-link" if link.type is LinkType.MUST_LINK else f"{link.matcher} link"
            return f"the {kind} {a.source}/{a.key} - {b.source}/{b.key}"
        assert node is not None
        if node[0] == "i":
            key = node[1][0]
            return _identifier_label(key.kind, key.value)
        ref = data.ref(node[1])
        return f"the record {ref.source}/{ref.key}"

    return graph, label


def _cuts(
    graph: nx.Graph, records: set[RecordId]
) -> Iterator[tuple[Node | None, list[set[RecordId]], Link | None]]:
    """Every articulation point (record or identifier) and every bridge that is a stored
    link, with the records of each part its removal leaves. Linear in the graph: part sizes
    come from the block-cut tree, not from re-running components per cut."""
    if graph.number_of_nodes() < 3 or not nx.is_connected(graph):
        return
    cut_nodes = set(nx.articulation_points(graph))
    bridges = [
        (u, v)
        for u, v in nx.bridges(graph)
        if graph.edges[u, v].get("link") is not None and u[0] == v[0] == "r"
    ]
    if not cut_nodes and not bridges:
        return
    # Block-cut tree: a node per biconnected block and per articulation point.
    tree = nx.Graph()
    holds: dict[Any, set[RecordId]] = {}
    pair_block: dict[frozenset[Node], Any] = {}
    for index, block in enumerate(nx.biconnected_components(graph)):
        bnode = ("b", index)
        if len(block) == 2:
            pair_block[frozenset(block)] = bnode
        holds[bnode] = {n[1] for n in block if n[0] == "r" and n not in cut_nodes}
        tree.add_node(bnode)
        for n in block & cut_nodes:
            tree.add_edge(bnode, ("c", n))
    for n in cut_nodes:
        holds[("c", n)] = {n[1]} if n[0] == "r" else set()
    root = next(iter(tree.nodes))
    parent = dict(nx.bfs_predecessors(tree, root))
    order = [root, *(n for _, n in nx.bfs_edges(tree, root))]
    below: dict[Any, set[RecordId]] = {}
    for n in reversed(order):
        gathered = set(holds[n])
        for child in tree.neighbors(n):
            if parent.get(child) == n:
                gathered |= below[child]
        below[n] = gathered

    def side(tnode: Any, away_from: Any) -> set[RecordId]:
        """Records reachable in the tree from ``tnode`` without passing ``away_from``."""
        if parent.get(tnode) == away_from:
            return below[tnode]
        return records - below[away_from]

    for n in sorted(cut_nodes, key=str):
        tnode = ("c", n)
        parts = [side(nb, tnode) for nb in tree.neighbors(tnode)]
        yield n, [p for p in parts if p], None
    for u, v in bridges:
        link = graph.edges[u, v]["link"]
        # A bridge is a block of two nodes; each end is an articulation point or a leaf.
        block = pair_block[frozenset((u, v))]
        parts = []
        for end in (u, v):
            if end in cut_nodes:
                parts.append(side(("c", end), block))
            else:
                parts.append({end[1]})
        yield None, parts, link


# -- the service -----------------------------------------------------------------------------

RANKING_LIMIT = 10_000
"""Entries the cached ranking keeps (best first): a steward works from the top."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _cursor(computed_at: str, index: int) -> str:
    return encode_cursor("suspicious", computed_at, index)


def _parse_cursor(cursor: str, computed_at: str) -> int:
    """The index after which the page starts; InvalidCursor for a cursor of another
    ranking (it was refreshed since) or one this service did not make."""
    stamp, index = decode_cursor(cursor, "suspicious", 2)
    if stamp != computed_at or not isinstance(index, int) or index < 0:
        raise InvalidCursor(cursor)
    return index


class ClusterService:
    """Cluster views, explanations and the ranking of suspicious clusters."""

    def __init__(
        self,
        store: Store,
        rules: Rules,
        settings: SuspicionSettings | None = None,
        batch_size: int = 500,
        clock: Any = _utc_now,
    ) -> None:
        self.store = store
        self.rules = rules
        self.settings = settings or SuspicionSettings()
        self.batch_size = batch_size
        self.clock = clock
        # One ranking at a time: it reads the whole store, and a second one started while
        # the first runs would only repeat it.
        self._ranking = threading.Lock()

    # -- one cluster -----------------------------------------------------------------------

    def _data(self, profile_id: str) -> _ClusterData:
        live = self.store.profiles.resolve([profile_id]).get(profile_id)
        if live is None:
            raise UnknownProfile(profile_id)
        return _ClusterData.of(_load(self.store, [live]), live)

    def cluster(self, profile_id: str, max_records: int = MAX_RECORDS) -> Cluster:
        """The profile's subgraph (following merge redirects); UnknownProfile if none."""
        if max_records < 1:
            raise InvalidArgument(f"max_records must be 1 or more, got {max_records}")
        data = self._data(profile_id)
        ordered = data.ordered()
        shown = ordered[:max_records]
        shown_set = set(shown)
        records = tuple(
            ClusterRecord(
                rid,
                data.ref(rid),
                data.records[rid].record.timestamp,
                {
                    k: data.records[rid].record.attributes[k]
                    for k in DISPLAY_ATTRIBUTES
                    if k in data.records[rid].record.attributes
                },
                tuple(data.identifiers.get(rid, [])),
            )
            for rid in shown
        )
        holders: dict[IdentifierKey, list[RecordRef]] = {}
        for rid in shown:
            for key in data.identifiers.get(rid, []):
                holders.setdefault(key, []).append(data.ref(rid))
        identifiers = tuple(
            ClusterIdentifier(
                key,
                self._why_not_linking(key, data.counts.get(key, 0)) is None,
                self._why_not_linking(key, data.counts.get(key, 0)),
                data.counts.get(key, 0),
                tuple(holders[key]),
            )
            for key in sorted(holders, key=self._identifier_order)
        )
        links = tuple(
            self._view(link, data, None)
            for link in data.internal
            if link.a in shown_set and link.b in shown_set
        )
        refs = self.store.records.refs(
            {link.a if link.b in shown_set else link.b for link, _ in data.external}
        )
        external = tuple(
            self._view(link, data, owner, refs)
            for link, owner in data.external
            if (link.a in shown_set or link.b in shown_set) and (link.a in refs or link.b in refs)
        )
        return Cluster(
            profile_id=data.profile_id,
            requested_id=profile_id,
            size=len(ordered),
            truncated=len(ordered) > len(shown),
            records=records,
            identifiers=identifiers,
            links=links,
            external_links=external,
        )

    def _why_not_linking(self, key: IdentifierKey, count: int) -> str | None:
        rule = self.rules.kinds.get(key.kind)
        if rule is None or not rule.links:
            return "kind_does_not_link"
        reason: IdentifierFlagReason | None = self.rules.link_block_reason(key, count)
        return reason.value if reason else None

    def _identifier_order(self, key: IdentifierKey) -> tuple[int, str, str]:
        rule = self.rules.kinds.get(key.kind)
        return (-(rule.priority if rule else 0), key.kind, key.value)

    @staticmethod
    def _view(
        link: Link,
        data: _ClusterData,
        owner: ProfileId | None,
        refs: Mapping[RecordId, RecordRef] | None = None,
    ) -> ClusterLink:
        def ref(rid: RecordId) -> RecordRef:
            return data.ref(rid) if rid in data.records else (refs or {})[rid]

        return ClusterLink(
            ref(link.a),
            ref(link.b),
            link.type,
            link.matcher,
            link.weight,
            dict(link.evidence),
            owner if refs is not None else None,
        )

    def suspicion(self, profile_id: str) -> Suspicion:
        """The over-merge signals of one profile now (the size signal uses the threshold
        of the last cached ranking, when there is one)."""
        data = self._data(profile_id)
        doc = self.store.meta.get(RANKING_KEY)
        threshold = doc.get("size_threshold") if isinstance(doc, dict) else None
        return assess(
            data, self.rules, self.settings, threshold if isinstance(threshold, int) else None
        )

    # -- why two records are one person ----------------------------------------------------

    def explain(self, a: RecordRef, b: RecordRef, alternatives: int = 2) -> Explanation:
        """The paths joining two records of one profile, each hop with its evidence."""
        if not 0 <= alternatives <= 10:
            raise InvalidArgument(f"alternatives must be between 0 and 10, got {alternatives}")
        ids = self.store.records.ids([a, b])
        for ref in (a, b):
            if ref not in ids:
                return UnknownRecord(ref)
        profiles = self.store.profiles.ids_of([ids[a], ids[b]])
        pa, pb = profiles.get(ids[a]), profiles.get(ids[b])
        if pa is None or pa != pb:
            return RecordsNotLinked(a, b, pa, pb)
        data = _ClusterData.of(_load(self.store, [pa]), pa)
        graph = evidence_graph(data, self.rules)
        if ids[a] == ids[b]:
            return LinkExplained(pa, a, b, ())
        paths = []
        for nodes in find_paths(graph, ids[a], ids[b], alternatives):
            hops = tuple(
                Hop(data.ref(x), data.ref(y), tuple(graph.edges[x, y]["evidence"]))
                for x, y in itertools.pairwise(nodes)
            )
            paths.append(LinkPath(hops))
        if not paths:
            # Same profile but no evidence path: links were removed since it was resolved.
            return RecordsNotLinked(a, b, pa, pb)
        return LinkExplained(pa, a, b, tuple(paths))

    # -- the ranking -----------------------------------------------------------------------

    def rank(self) -> dict[str, JSONValue]:
        """Score every live profile and cache the ranking in the store's metadata.

        Streams profile ids in batches of ``batch_size`` and reads each batch in six
        batched store calls (members, records, identifiers, identifier counts, links, the
        profiles of linked records outside it): the whole store is read once, so this is a
        job to run after loads, not per request.
        """
        scored: list[Suspicion] = []
        sizes: list[int] = []
        batch: list[ProfileId] = []

        def flush() -> None:
            loaded = _load(self.store, batch)
            for pid in batch:
                data = _ClusterData.of(loaded, pid)
                if not data.records:
                    continue
                sizes.append(len(data.records))
                found = assess(data, self.rules, self.settings)
                if found.score > 0 or len(data.records) > self.settings.min_large_size:
                    scored.append(found)
            batch.clear()

        for pid in self.store.profiles.scan_ids(batch_size=self.batch_size):
            batch.append(pid)
            if len(batch) >= self.batch_size:
                flush()
        if batch:
            flush()
        threshold = self._size_threshold(sizes)
        ranked: list[Suspicion] = []
        for found in scored:
            if found.size > threshold:
                large = _large_reason(found.size, threshold, self.settings)
                reasons = sorted((*found.reasons, large), key=lambda r: -r.score)
                found = Suspicion(
                    found.profile_id,
                    found.size,
                    round(found.score + large.score, 3),
                    tuple(reasons),
                )
            if found.score > 0:
                ranked.append(found)
        ranked.sort(key=lambda s: (-s.score, -s.size, s.profile_id))
        doc: dict[str, JSONValue] = {
            "computed_at": self.clock().isoformat(),
            "profiles": len(sizes),
            "suspicious": len(ranked),
            "size_threshold": threshold,
            "entries": [s.to_document() for s in ranked[:RANKING_LIMIT]],
        }
        with self.store.unit_of_work():
            self.store.meta.set(RANKING_KEY, doc)
        return doc

    def _ranking_document(self, refresh: bool) -> dict[str, Any]:
        """The cached ranking, computed first when there is none or ``refresh`` asks.

        While one ranking runs, a refresh asked elsewhere is served the cached ranking
        (it would be the same work started again); a caller with no ranking to fall back
        on waits for the running one.
        """
        doc = self.store.meta.get(RANKING_KEY)
        cached = isinstance(doc, dict) and "entries" in doc
        if cached and not refresh:
            return cast(dict[str, Any], doc)
        if self._ranking.acquire(blocking=not cached):
            try:
                if not refresh:  # another caller may have ranked while this one waited
                    doc = self.store.meta.get(RANKING_KEY)
                    if isinstance(doc, dict) and "entries" in doc:
                        return doc
                return self.rank()
            finally:
                self._ranking.release()
        return cast(dict[str, Any], doc)

    def _size_threshold(self, sizes: Sequence[int]) -> int:
        floor = self.settings.min_large_size
        if not sizes:
            return floor
        ordered = sorted(sizes)
        index = max(0, math.ceil(self.settings.large_percentile / 100 * len(ordered)) - 1)
        return max(floor, ordered[index])

    def suspicious(
        self, first: int = 20, after: str | None = None, refresh: bool = False
    ) -> SuspiciousPage:
        """A page of the cached ranking, best first; computed first when there is none yet
        or when ``refresh`` asks for it (a whole-store read: see :meth:`rank`)."""
        if not 1 <= first <= 500:
            raise InvalidArgument(f"first must be between 1 and 500, got {first}")
        doc = self._ranking_document(refresh)
        computed_at = str(doc["computed_at"])
        entries: list[Any] = list(doc["entries"])
        start = _parse_cursor(after, computed_at) + 1 if after else 0
        page = entries[start : start + first]
        end = start + len(page) - 1
        return SuspiciousPage(
            entries=tuple((start + i + 1, Suspicion.from_document(e)) for i, e in enumerate(page)),
            total=len(entries),
            has_next_page=start + len(page) < len(entries),
            end_cursor=_cursor(computed_at, end) if page else after,
            computed_at=datetime.fromisoformat(computed_at),
            profiles_analysed=int(doc.get("profiles", 0)),
            size_threshold=int(doc.get("size_threshold", 0)),
            cursors=tuple(_cursor(computed_at, start + i) for i in range(len(page))),
        )


def _large_reason(size: int, threshold: int, settings: SuspicionSettings) -> Reason:
    return Reason(
        "large_cluster",
        f"{size} records: larger than {settings.large_percentile:g}% of the store's profiles "
        f"(threshold {threshold})",
        round(settings.large_cluster * (1 + math.log2(size / max(threshold, 1))), 3),
        {"size": size, "threshold": threshold},
    )
