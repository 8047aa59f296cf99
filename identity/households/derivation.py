"""Finding households: which profiles share evidence of living together, grouped into
connected components, and the ids those components keep from one build to the next.

Pure functions over the read model's rows (no store): :func:`facts_of` reads what a
profile holds, :func:`evidence_edges` pairs profiles that share a value, :func:`components`
joins them under the stewards' corrections and the size cap, :func:`assign_ids` keeps ids
stable. The values compared stay in memory; ids and evidence name only profiles and
evidence kinds.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import phonenumbers

from identity.households.rules import (
    SHARED_ADDRESS_SURNAME,
    SHARED_EMAIL,
    SHARED_LANDLINE,
    STEWARD,
    HouseholdRules,
)
from identity.mapping.addresses import postcode_in
from identity.model import IdentifierKey, JSONValue, ProfileId
from identity.normalise import normalise_name
from identity.store.ports import HouseholdCorrection, HouseholdRow

APART = "apart"
TOGETHER = "together"
ALONE = "alone"
CORRECTION_KINDS = (APART, TOGETHER, ALONE)
EVIDENCE_ORDER = (STEWARD, SHARED_ADDRESS_SURNAME, SHARED_LANDLINE, SHARED_EMAIL)
"""The order edges are joined in: a steward's first, then the most specific evidence, so
that which of two profiles a steward kept apart joins a household does not depend on the
order profiles were read in."""

Edge = tuple[str, ProfileId, ProfileId]
"""(evidence type, profile a, profile b), a < b."""

_NOT_WORD = re.compile(r"[^a-z0-9]+")
_NUMBER = re.compile(r"[0-9]+")
_ZIP4 = re.compile(r"[0-9]{5}-[0-9]{4}")
# Polish family names agree with the bearer's gender (Kowalski, Kowalska): one family's
# name, written two ways. Only these adjectival endings: -a alone is too common an ending
# (Costa, Garcia) to fold.
_FEMININE_ENDINGS = (("ska", "ski"), ("cka", "cki"), ("dzka", "dzki"))


@dataclass(frozen=True, slots=True)
class ProfileFacts:
    """What a profile holds that a household may share (personal values: memory only)."""

    profile_id: ProfileId
    address_surname: str | None
    landlines: tuple[str, ...]
    emails: tuple[str, ...]


def family_name(value: str) -> str:
    """A family name for comparison: normalised like every name, feminine Polish endings
    folded to the masculine form."""
    name = _NOT_WORD.sub(" ", normalise_name(value)).strip()
    for feminine, masculine in _FEMININE_ENDINGS:
        if name.endswith(feminine):
            return name[: -len(feminine)] + masculine
    return name


def address_text(value: str) -> str:
    """Text for comparison: transliterated, case-folded, punctuation and spacing removed
    (``12, High St.`` and ``12 HIGH ST`` agree)."""
    return _NOT_WORD.sub(" ", normalise_name(value)).strip()


def _compact(postcode: str) -> str:
    """A postcode for comparison; a US ZIP+4 as its ZIP (the +4 is a delivery segment that
    one record carries and another leaves out)."""
    code = address_text(postcode).replace(" ", "")
    return code[:5] if _ZIP4.fullmatch(postcode.strip()) else code


def address_key(address: str, postcode: str | None) -> str | None:
    """One home's address as a key: its postcode and the numbers of its street address
    (house, flat, building, P.O. box), in any order, or without numbers its words.

    A postcode and the premise numbers name a delivery point whatever the street is
    written as: ``Rosenstr. 15`` and ``Rosenstraße 15``, ``Flat 5, 148 Highfield Rd`` and
    ``148 Highfield Road, Flat 5``, ``No. 524 Xinhua Rd, Bldg 4 Rm 901`` and ``Room 901,
    Building 4, No. 524 Xinhua Road`` agree. The postcode is the attribute's, else the one
    the address ends with (a one-line address); a postcode written inside the address is
    not a premise number. No postcode at all: the address's words and numbers (``12 High
    Street`` is in many towns, but a key needs both to agree anyway)."""
    code = _compact(postcode) if postcode else None
    found = postcode_in(address)
    if found is not None and (code is None or _compact(found.group()) == code):
        code = _compact(found.group())
        address = address[: found.start()] + " " + address[found.end() :]
    text = address_text(address)
    numbers = sorted(_NUMBER.findall(text))
    if numbers:
        return f"{code or ''}|{' '.join(numbers)}"
    return f"{code or ''}|{text}" if text else None


@lru_cache(maxsize=100_000)
def is_landline(e164: str) -> bool:
    """Whether ``phonenumbers`` types a number as a fixed line. FIXED_LINE_OR_MOBILE (the
    US and Canada, where the number does not say) is not: mobiles are personal."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.FIXED_LINE


def _text(value: JSONValue) -> str | None:
    if isinstance(value, str) and value.strip():
        return value
    return None


def facts_of(
    profile_id: ProfileId,
    golden: Mapping[str, JSONValue],
    identifiers: Iterable[tuple[str, str]],
    rules: HouseholdRules,
    blocklisted: Callable[[IdentifierKey], bool],
) -> ProfileFacts:
    """The household evidence a profile holds: its golden record's family name and
    address, its landlines and e-mail addresses ((kind, normalised value) pairs)."""
    key = None
    surname = _text(golden.get(rules.surname))
    address = _text(golden.get(rules.address))
    if surname and address:
        home, family = address_key(address, _text(golden.get(rules.postcode))), family_name(surname)
        if home and family:
            key = f"{family}|{home}"
    landlines: list[str] = []
    emails: list[str] = []
    for kind, value in identifiers:
        # Junk never counts (test@test.com is typed by strangers); an address flagged as
        # a family's is blocklisted for identity precisely because it is shared at home.
        if blocklisted(IdentifierKey(kind, value)) and not rules.is_family_email(kind, value):
            continue
        if kind in rules.phone_kinds and is_landline(value):
            landlines.append(value)
        elif kind in rules.email_kinds:
            emails.append(value)
    return ProfileFacts(profile_id, key, tuple(landlines), tuple(emails))


@dataclass(slots=True)
class SharedValues:
    """Profiles by each value they hold, per evidence type (filled batch by batch)."""

    evidence: tuple[str, ...]
    holders: dict[str, dict[str, list[ProfileId]]] = field(default_factory=dict)

    def add(self, facts: Iterable[ProfileFacts]) -> None:
        for f in facts:
            if SHARED_ADDRESS_SURNAME in self.evidence and f.address_surname:
                self._hold(SHARED_ADDRESS_SURNAME, f.address_surname, f.profile_id)
            if SHARED_LANDLINE in self.evidence:
                for value in f.landlines:
                    self._hold(SHARED_LANDLINE, value, f.profile_id)
            if SHARED_EMAIL in self.evidence:
                for value in f.emails:
                    self._hold(SHARED_EMAIL, value, f.profile_id)

    def _hold(self, kind: str, value: str, profile_id: ProfileId) -> None:
        self.holders.setdefault(kind, {}).setdefault(value, []).append(profile_id)


@dataclass(slots=True)
class EdgeReport:
    edges: list[Edge]
    crowded_values: int
    """Values held by more profiles than a household may have (a shop's number, a care
    home's address): no evidence."""


def evidence_edges(shared: SharedValues, max_members: int) -> EdgeReport:
    """Every pair of profiles holding one value, for values held by 2 to ``max_members``
    profiles: a value held by more cannot be one household's."""
    edges: set[Edge] = set()
    crowded = 0
    for kind, by_value in shared.holders.items():
        for holders in by_value.values():
            distinct = sorted(set(holders))
            if len(distinct) < 2:
                continue
            if len(distinct) > max_members:
                crowded += 1
                continue
            for i, a in enumerate(distinct):
                for b in distinct[i + 1 :]:
                    edges.add((kind, a, b))
    return EdgeReport(sorted(edges, key=_edge_order), crowded)


def _edge_order(edge: Edge) -> tuple[int, str, str]:
    return (EVIDENCE_ORDER.index(edge[0]), edge[1], edge[2])


@dataclass(frozen=True, slots=True)
class Component:
    members: tuple[ProfileId, ...]
    evidence: tuple[Edge, ...]


@dataclass(slots=True)
class Components:
    households: list[Component]
    too_large: int = 0
    """Components above the cap, dropped whole."""
    too_large_profiles: int = 0
    refused: int = 0
    """Edges a steward's correction refused."""


def correction_edges(corrections: Iterable[HouseholdCorrection]) -> list[Edge]:
    """The joins stewards asked for, as edges."""
    found = []
    for c in corrections:
        if c.kind == TOGETHER and len(c.profiles) == 2:
            a, b = sorted(c.profiles)
            found.append((STEWARD, a, b))
    return found


def components(
    edges: Iterable[Edge],
    corrections: Sequence[HouseholdCorrection],
    max_members: int,
) -> Components:
    """Households: the connected components of ``edges`` and the stewards' joins, joined
    in canonical order (steward joins first) while no union puts two profiles a steward
    kept apart together, profiles a steward took out joined to none; components above
    ``max_members`` dropped."""
    alone = {c.profiles[0] for c in corrections if c.kind == ALONE and c.profiles}
    apart: dict[ProfileId, set[ProfileId]] = defaultdict(set)
    for c in corrections:
        if c.kind == APART and len(c.profiles) == 2:
            a, b = c.profiles
            apart[a].add(b)
            apart[b].add(a)
    ordered = sorted({*correction_edges(corrections), *edges}, key=_edge_order)
    parent: dict[ProfileId, ProfileId] = {}
    members: dict[ProfileId, set[ProfileId]] = {}

    def find(x: ProfileId) -> ProfileId:
        parent.setdefault(x, x)
        members.setdefault(x, {x})
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    result = Components([])
    kept: list[Edge] = []
    for edge in ordered:
        _, a, b = edge
        if a in alone or b in alone:
            continue
        ra, rb = find(a), find(b)
        if ra != rb:
            small, large = sorted((members[ra], members[rb]), key=len)
            if any(apart.get(m, set()) & large for m in small):
                result.refused += 1
                continue
            if len(members[ra]) < len(members[rb]):
                ra, rb = rb, ra
            parent[rb] = ra
            members[ra] |= members.pop(rb)
        kept.append(edge)
    evidence: dict[ProfileId, list[Edge]] = defaultdict(list)
    for edge in kept:
        evidence[find(edge[1])].append(edge)
    for root, group in members.items():
        if parent[root] != root or len(group) < 2:
            continue
        if len(group) > max_members:
            result.too_large += 1
            result.too_large_profiles += len(group)
            continue
        result.households.append(
            Component(tuple(sorted(group)), tuple(sorted(set(evidence[root]))))
        )
    result.households.sort(key=lambda c: c.members)
    return result


def new_household_id(members: Sequence[ProfileId], taken: Collection[str]) -> str:
    """A new household's id: from a hash of its member profile ids (deterministic, so two
    stores built from the same data agree; no personal value in it), made unique."""
    digest = hashlib.sha256("\n".join(sorted(members)).encode("utf-8")).hexdigest()
    candidate = f"h{digest[:15]}"
    n = 1
    while candidate in taken:
        n += 1
        candidate = f"h{digest[:15]}-{n}"
    return candidate


def assign_ids(
    found: Sequence[Component],
    previous: Mapping[ProfileId, HouseholdRow],
    now: str,
    taken: Collection[str] = (),
) -> list[HouseholdRow]:
    """Households with ids: each previous id goes to the new household holding most of its
    members (ties: the older id first, then the lower id), at most one each way, as
    profile ids survive re-clustering; a household no previous id reaches gets a new id.
    ``previous``: the stored household of each profile in ``found``; ``taken``: ids in use
    elsewhere that a new id must not repeat."""
    overlaps: dict[tuple[str, int], int] = defaultdict(int)
    rows: dict[str, HouseholdRow] = {}
    for index, component in enumerate(found):
        for pid in component.members:
            old = previous.get(pid)
            if old is not None:
                overlaps[(old.id, index)] += 1
                rows[old.id] = old
    ranked = sorted(
        overlaps.items(), key=lambda item: (-item[1], rows[item[0][0]].since, item[0][0])
    )
    claimed: dict[int, HouseholdRow] = {}
    used: set[str] = set()
    for (old_id, index), _ in ranked:
        if index in claimed or old_id in used:
            continue
        claimed[index] = rows[old_id]
        used.add(old_id)
    in_use = set(taken) | set(rows)
    result = []
    for index, component in enumerate(found):
        kept = claimed.get(index)
        if kept is not None:
            household_id, since = kept.id, kept.since
        else:
            household_id, since = new_household_id(component.members, in_use), now
            in_use.add(household_id)
        result.append(HouseholdRow(household_id, component.members, component.evidence, since))
    return result
