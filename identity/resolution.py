"""Re-resolving the part of the graph a change touches, keeping profile ids stable.

Given the records that changed, :class:`Resolver` finds every record whose profile could
depend on them (the closure over linking identifiers, matcher links and current profile
membership), re-clusters exactly that closure with :func:`identity.clustering.cluster`, and
maps the new clusters onto the old profile ids: the oldest profile keeps its id on a
merge (the others redirect to it), a split leaves the id on the part holding most of the
profile's records, and only clusters that inherit no id get a new one. No record changes
profile without the profile change log saying how (a part that joins another profile is
logged as split off and merged into it). Nothing outside the closure is read or written,
so the cost follows the size of the change, not of the store.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from identity.clustering import DETERMINISTIC, Clustering, RefusedUnion, cluster
from identity.model import (
    IdentifierFlag,
    IdentifierKey,
    LinkType,
    ProfileChanges,
    ProfileId,
    RecordId,
)
from identity.normalise import normalise_name
from identity.rules import Rules
from identity.store.base import Store

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_profile_id() -> ProfileId:
    """A ULID-style id: 48 bits of milliseconds then 80 random bits, Crockford base32.

    Time-ordered so ids sort roughly by creation, random so they reveal nothing else.
    """
    n = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[n & 31])
        n >>= 5
    return "p_" + "".join(reversed(chars))


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Resolution:
    """What one re-resolution changed, for ingest reports and logs."""

    records: int = 0
    profiles_created: int = 0
    profiles_merged: int = 0
    profiles_split: int = 0
    flagged: list[IdentifierFlag] = field(default_factory=list)
    refused: list[RefusedUnion] = field(default_factory=list)
    changes: ProfileChanges = field(default_factory=ProfileChanges)
    affected: set[ProfileId] = field(default_factory=set)
    """Live profiles whose records changed: created, re-assigned, survivors of merges, and
    the profiles of the changed records themselves (an updated attribute counts)."""


ResolutionListener = Callable[[Resolution], None]
"""Told of every re-resolution inside its unit of work (segments re-evaluate from it)."""


class Resolver:
    """Keeps profiles equal to the clustering of all stored records, incrementally."""

    def __init__(
        self,
        store: Store,
        rules: Rules,
        clock: Callable[[], datetime] = utc_now,
        new_id: Callable[[], ProfileId] = new_profile_id,
    ) -> None:
        self.store = store
        self.rules = rules
        self.clock = clock
        self.new_id = new_id
        self.listeners: list[ResolutionListener] = []
        self._linking_kinds = frozenset(k for k, rule in rules.kinds.items() if rule.links)
        # Kinds whose groups divide by an attribute, and the attributes they compare.
        self._compared = {k: rule.same_attribute for k, rule in rules.kinds.items()}

    def resolve(
        self,
        seeds: Collection[RecordId],
        touched_identifiers: Collection[IdentifierKey] = (),
        status_changed: Collection[IdentifierKey] = (),
        matcher_links_only: bool = False,
        identifier_counts: Mapping[IdentifierKey, int] | None = None,
        notify: bool = True,
    ) -> Resolution:
        """Re-resolve everything that ``seeds`` (changed records) can affect.

        ``touched_identifiers`` are identifiers whose record counts changed (their flags
        are refreshed); ``status_changed`` are those among them that started or stopped
        linking, so every record holding them is re-resolved too. ``matcher_links_only``
        says that only weighted matcher links changed since the records were last resolved:
        the deterministic links are then kept as stored when they join the same pairs
        (clustering applies matcher links after every identifier, so the identifier unions
        do not depend on them), which saves rewriting every one of them.
        ``identifier_counts`` are current record counts the caller already holds (the
        ingest counts the touched identifiers): they are not asked for again.
        ``notify`` False: the listeners (read model, segments) are not told; the caller
        brings them up to date itself (a bulk load does, after committing).
        Call inside a unit of work.
        """
        store = self.store
        outcome = Resolution()
        known = dict(identifier_counts or {})
        outcome.flagged = self._refresh_flags(touched_identifiers, known)
        start = set(seeds)
        if status_changed:
            for ids in store.records.with_identifiers(status_changed).values():
                start.update(ids)
        if not start:
            return outcome

        component, identifiers, linking, old = self._closure(start, known)
        refs = store.records.refs(component)
        links = store.links.of(
            component,
            types=(LinkType.MATCH, LinkType.MUST_LINK, LinkType.CANNOT_LINK),
            evidence=False,
        )
        attributes = self._compared_attributes(identifiers, linking)
        result = cluster(refs, identifiers, linking, links, self.rules, attributes)
        now = self.clock()
        outcome.changes = self._assign_ids(result, old)
        outcome.records = len(component)
        outcome.refused = result.refused
        stored = {(x.a, x.b) for x in links if x.matcher == DETERMINISTIC}
        if not (matcher_links_only and stored == {(x.a, x.b) for x in result.links}):
            store.links.replace(component, DETERMINISTIC, result.links)
        store.profiles.apply(outcome.changes, now)
        # A part that moved to another profile is logged as a new id merged at once: it
        # counts as neither a created nor a merged profile (it is one more split).
        moved = set(outcome.changes.created) & set(outcome.changes.merged)
        outcome.profiles_created = len(outcome.changes.created) - len(moved)
        outcome.profiles_merged = len(outcome.changes.merged) - len(moved)
        outcome.profiles_split = self._count_splits(result, old)
        changes = outcome.changes
        # The seeds' own profiles count when their records changed. When only matcher
        # links did (``idgraph link``), a profile whose records stayed is as it was:
        # links are not part of the read model, so only moved records count.
        own: set[ProfileId] = set()
        if not matcher_links_only or touched_identifiers:
            own = {changes.assignments.get(rid) or old[rid] for rid in start if rid in old}
        outcome.affected = (
            (
                own
                | {changes.assignments[rid] for rid in start if rid in changes.assignments}
                | set(changes.created)
                | changes.touched
            )
            - set(changes.merged)
            - set(changes.deleted)
        )
        if notify:
            for listener in self.listeners:
                listener(outcome)
        return outcome

    def _compared_attributes(
        self, identifiers: dict[RecordId, list[IdentifierKey]], linking: set[IdentifierKey]
    ) -> dict[RecordId, dict[str, str]]:
        """The normalised attributes that ``same_attribute`` rules compare, read only for
        the records holding a linking identifier of such a kind (nobody else's are used)."""
        needed = [
            rid
            for rid, keys in identifiers.items()
            if any(self._compared.get(k.kind) and k in linking for k in keys)
        ]
        if not needed:
            return {}
        names = {name for name in self._compared.values() if name}
        return {
            rid: {
                name: normalise_name(str(value))
                for name, value in held.items()
                if value not in (None, "")
            }
            for rid, held in self.store.records.attributes_of(needed, names).items()
        }

    def _closure(
        self, start: set[RecordId], known: dict[IdentifierKey, int]
    ) -> tuple[
        set[RecordId],
        dict[RecordId, list[IdentifierKey]],
        set[IdentifierKey],
        dict[RecordId, ProfileId],
    ]:
        """Every record reachable from ``start`` over linking identifiers, matcher and
        steward links, and current profile membership, with each one's current profile;
        one batch of queries per hop."""
        store = self.store
        component: set[RecordId] = set()
        identifiers: dict[RecordId, list[IdentifierKey]] = {}
        counts: dict[IdentifierKey, int] = {}
        linking: set[IdentifierKey] = set()
        expanded: set[IdentifierKey] = set()
        profile_of: dict[RecordId, ProfileId] = {}
        linking_kinds = self._linking_kinds
        frontier = set(start)
        while frontier:
            # Records sharing a profile with the frontier may need to split away from it.
            found = store.profiles.ids_of(frontier - profile_of.keys())
            profile_of.update(found)
            profiles = set(found.values())
            if profiles:
                for pid, ids in store.profiles.records_of(profiles).items():
                    frontier.update(ids)
                    profile_of.update((rid, pid) for rid in ids)
            frontier -= component
            if not frontier:
                break
            component |= frontier
            held = store.records.identifiers_of(frontier)
            new_keys: set[IdentifierKey] = set()
            for rid, idents in held.items():
                keys = [i.key for i in idents if i.kind in linking_kinds]
                identifiers[rid] = keys
                new_keys.update(k for k in keys if k not in counts)
            if new_keys:
                unknown = [k for k in new_keys if k not in known]
                if unknown:
                    known.update(store.records.identifier_counts(unknown))
                counts.update((k, known[k]) for k in new_keys)
                linking.update(
                    k for k in new_keys if self.rules.link_block_reason(k, counts[k]) is None
                )
            reach = (linking & new_keys) - expanded
            expanded |= reach
            nxt: set[RecordId] = set()
            if reach:
                for ids in store.records.with_identifiers(reach).values():
                    nxt.update(ids)
            reaching = (LinkType.MATCH, LinkType.MUST_LINK)
            for link in store.links.of(frontier, types=reaching, evidence=False):
                if link.matcher != DETERMINISTIC:
                    nxt.add(link.a)
                    nxt.add(link.b)
            frontier = nxt - component
        return component, identifiers, linking, profile_of

    def _kind_links(self, kind: str) -> bool:
        rule = self.rules.kinds.get(kind)
        return rule is not None and rule.links

    def _assign_ids(self, result: Clustering, old: dict[RecordId, ProfileId]) -> ProfileChanges:
        """Map the new clusters onto profile ids, and say in the change log how every record
        that changed profile got there.

        Oldest profile first, each id goes to the cluster holding most of its records (then
        the bigger cluster, then ref order); when an older profile already holds that cluster
        the id is merged into it, so an id never ends up naming a minority of its records.
        Clusters no id claims get new ids that name the profile they were split off (the
        one most of their records left, even when it was merged in this change: its id
        redirects to the survivor).
        A record can still land in a profile that neither was its own nor absorbed its own
        (a part of a profile joins another one, as after a steward's split, when a limit no
        longer holds them apart): that part gets a new id split off its profile and merged
        into the one it joined in the same change, so the log shows the move as a split and
        a merge, and the new id redirects to where the records went.
        """
        store = self.store
        changes = ProfileChanges()
        cluster_of: dict[RecordId, int] = {}
        for index, members in enumerate(result.clusters):
            for rid in members:
                cluster_of[rid] = index
        by_profile: dict[ProfileId, list[RecordId]] = {}
        for rid, pid in old.items():
            by_profile.setdefault(pid, []).append(rid)
        rows = store.profiles.get(by_profile)
        epoch = datetime.min.replace(tzinfo=UTC)

        def age(pid: ProfileId) -> tuple[datetime, ProfileId]:
            row = rows.get(pid)
            return (row.created_at if row else epoch, pid)

        owner: dict[int, ProfileId] = {}
        for pid in sorted(by_profile, key=age):
            share = Counter(cluster_of[rid] for rid in by_profile[pid])
            home = min(share, key=lambda c: (-share[c], -len(result.clusters[c]), c))
            if home in owner:
                changes.merged[pid] = owner[home]
            else:
                owner[home] = pid
        for index in range(len(result.clusters)):
            if index not in owner:
                pid = self.new_id()
                owner[index] = pid
                changes.created.append(pid)
                origins = Counter(old[rid] for rid in result.clusters[index] if rid in old)
                if origins:
                    changes.split_from[pid] = min(origins, key=lambda p: (-origins[p], p))
        for index, members in enumerate(result.clusters):
            pid = owner[index]
            explained = {pid, changes.split_from.get(pid)}
            moved = {old[rid] for rid in members if rid in old} - explained
            for origin in sorted(moved):
                if changes.merged.get(origin) != pid:
                    part = self.new_id()
                    changes.created.append(part)
                    changes.split_from[part] = origin
                    changes.merged[part] = pid
        for rid, index in cluster_of.items():
            pid = owner[index]
            if old.get(rid) != pid:
                changes.assignments[rid] = pid
                changes.touched.add(pid)
                previous = old.get(rid)
                if previous is not None and previous not in changes.merged:
                    changes.touched.add(previous)
        changes.touched -= set(changes.merged)
        return changes

    @staticmethod
    def _count_splits(result: Clustering, old: dict[RecordId, ProfileId]) -> int:
        spread: dict[ProfileId, set[int]] = {}
        for index, members in enumerate(result.clusters):
            for rid in members:
                pid = old.get(rid)
                if pid is not None:
                    spread.setdefault(pid, set()).add(index)
        return sum(1 for parts in spread.values() if len(parts) > 1)

    def _refresh_flags(
        self, keys: Iterable[IdentifierKey], known: dict[IdentifierKey, int]
    ) -> list[IdentifierFlag]:
        relevant = [k for k in set(keys) if self._kind_links(k.kind)]
        if not relevant:
            return []
        unknown = [k for k in relevant if k not in known]
        if unknown:
            known.update(self.store.records.identifier_counts(unknown))
        counts = known
        flags: list[IdentifierFlag] = []
        cleared: list[IdentifierKey] = []
        for key in sorted(relevant):
            reason = self.rules.link_block_reason(key, counts[key])
            if reason is None or counts[key] == 0:
                cleared.append(key)
            else:
                flags.append(IdentifierFlag(key, reason, counts[key]))
        self.store.records.put_flags(flags, cleared)
        return flags
