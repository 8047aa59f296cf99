"""Stewards correct the graph: merge, split, separate, work the review queue, undo.

Every correction is a steward link the matchers cannot undo, followed by a re-resolution
of the records it touches, in one unit of work with its audit entry:

- ``merge_profiles``: must-links joining every record of the profiles (a must-link is
  applied before any other evidence, unconditionally);
- ``separate_records``: a cannot-link between two records; every later clustering refuses
  any union that would put them together, so a new record that would join both sides
  joins at most one, deterministically (the canonical clustering order decides which);
- ``split_profile``: must-links within each group and cannot-links between the groups;
  the part with most of the profile's records keeps its id, the others get new ids that
  record where they came from (``split_from``). A part whose records link by the rules to
  another profile (a limit kept them apart while the part was in the bigger profile)
  joins it: its new id is merged into that profile, and the change log shows both;
- ``accept_match`` / ``reject_match``: a review pair becomes a must-link / cannot-link
  (``review_queue`` lists the undecided pairs by record ids or most likely first);
- ``undo``: removes the links an action added and restores the ones it removed, then
  re-resolves. The partition comes back; a profile id retired by a merge does not (the
  part that leaves again gets a new id whose ``split_from`` names the survivor).

The audit entry of an action holds what undo needs: the links added and removed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from identity.audit import AuditService, link_document, link_from_document
from identity.cursors import decode_cursor, decode_int_cursor, encode_cursor
from identity.duplicates import DuplicateNote
from identity.errors import (
    InvalidArgument,
    InvalidCursor,
    StewardConflict,
    UnknownAction,
    UnknownProfile,
    UnknownRecord,
)
from identity.model import (
    DECISIONS,
    IdentifierFlag,
    IdentifierFlagReason,
    JSONValue,
    Link,
    LinkType,
    ProfileChangeRecord,
    ProfileId,
    RecordId,
    RecordRef,
)
from identity.quality import review_queue_size, with_review_queue
from identity.resolution import Resolver, utc_now
from identity.store.base import Store

STEWARD = "steward"
"""The matcher name of steward links."""
UNDOABLE = frozenset(
    {"merge_profiles", "split_profile", "separate_records", "accept_match", "reject_match"}
)


class ReviewOrder(StrEnum):
    """The order of the review queue; each order has its own cursors."""

    PAIR = "pair"
    """By record ids (a, b): the store's order."""
    PROBABILITY = "probability"
    """Most likely match first: by the stored link weight (the match probability, which the
    match weight grows with) descending, ties by (a, b)."""


_CURSOR_KINDS = {ReviewOrder.PAIR: "review", ReviewOrder.PROBABILITY: "review-by-probability"}


@dataclass(frozen=True, slots=True)
class ActionResult:
    """A steward action as done: its audit entry id and the live profiles it left."""

    action_id: int
    profiles: list[ProfileId]


@dataclass(frozen=True, slots=True)
class ReviewPair:
    """A probabilistic pair waiting for a steward: between the review and link thresholds,
    vetoed by a required field, or duplicate accounts within one source that a limit holds
    apart."""

    link: Link
    a: RecordRef
    b: RecordRef
    profile_a: ProfileId | None
    profile_b: ProfileId | None

    @property
    def probability(self) -> float:
        """The match probability (the matcher keeps it as the link's weight too)."""
        value = self.link.evidence.get("match_probability")
        return float(value) if isinstance(value, int | float) else self.link.weight

    @property
    def duplicate(self) -> DuplicateNote | None:
        """The pair as duplicate accounts within one source, if it is."""
        return DuplicateNote.of(self.link.evidence)

    @property
    def reason(self) -> str:
        """Why the pair waits for a steward, in one sentence."""
        vetoed = self.link.evidence.get("disagrees_on")
        note = self.duplicate
        if isinstance(vetoed, list) and vetoed:
            said = f"{', '.join(str(f) for f in vetoed)} disagree{'s' if len(vetoed) == 1 else ''}"
            return f"{said}: reviewed, never linked" + (f"; {note.reason()}" if note else "")
        if note is not None:
            return note.reason()
        needed = self.link.evidence.get("needs_one_of")
        if isinstance(needed, list) and needed:
            return (
                f"nothing but names agree (none of {', '.join(str(f) for f in needed)}): "
                "reviewed, never linked"
            )
        return "the match probability is between the review and link thresholds"

    @property
    def weight(self) -> float:
        """The match weight: log2 of the odds the model gives the pair."""
        value = self.link.evidence.get("match_weight")
        if isinstance(value, int | float):
            return float(value)
        chance = min(max(self.probability, 1e-12), 1 - 1e-12)
        return math.log2(chance / (1 - chance))


@dataclass(frozen=True, slots=True)
class ReviewPage:
    pairs: list[ReviewPair]
    end_cursor: str | None
    has_next_page: bool


@dataclass(frozen=True, slots=True)
class ProfileChangesPage:
    changes: list[ProfileChangeRecord]
    cursor: str
    has_more: bool


def review_cursor(link: Link, order: ReviewOrder = ReviewOrder.PAIR) -> str:
    """The cursor of a review pair in ``order``: pass it as ``after`` (with the same order)
    for the pairs after it. A PROBABILITY cursor holds the weight too, so the next page
    seeks from the pair's place even when the pair itself was decided meanwhile."""
    if order is ReviewOrder.PROBABILITY:
        return encode_cursor(_CURSOR_KINDS[order], link.weight, link.a, link.b)
    return encode_cursor(_CURSOR_KINDS[order], link.a, link.b)


def _decode_review(cursor: str, order: ReviewOrder) -> list[JSONValue]:
    """The position in a cursor of the queue in ``order``. A cursor of the other order is
    refused with a hint, never read in the wrong order (it would skip or repeat pairs)."""
    size = {ReviewOrder.PAIR: 2, ReviewOrder.PROBABILITY: 3}
    try:
        return decode_cursor(cursor, _CURSOR_KINDS[order], size[order])
    except InvalidCursor:
        for other in ReviewOrder:
            if other is order:
                continue
            try:
                decode_cursor(cursor, _CURSOR_KINDS[other], size[other])
            except InvalidCursor:
                continue
            raise InvalidCursor(
                cursor,
                f"it is a cursor of the review queue in {other.value} order: page on in that "
                f"order, or start the {order.value} order without one",
            ) from None
        raise


def _record_id(value: JSONValue, cursor: str) -> RecordId:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidCursor(cursor)
    return value


def _pair_position(cursor: str) -> tuple[RecordId, RecordId]:
    a, b = _decode_review(cursor, ReviewOrder.PAIR)
    return _record_id(a, cursor), _record_id(b, cursor)


def _probability_position(cursor: str) -> tuple[float, RecordId, RecordId]:
    weight, a, b = _decode_review(cursor, ReviewOrder.PROBABILITY)
    if not isinstance(weight, int | float) or isinstance(weight, bool) or not math.isfinite(weight):
        raise InvalidCursor(cursor)
    return float(weight), _record_id(a, cursor), _record_id(b, cursor)


def profile_change_cursor(seq: int) -> str:
    """The cursor of a profile change: pass it as ``since`` for the changes after it."""
    return encode_cursor("profile-changes", seq)


class StewardService:
    """Steward corrections and the review queue, each audited and reversible."""

    def __init__(
        self,
        store: Store,
        resolver: Resolver,
        audit: AuditService,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.resolver = resolver
        self.audit = audit
        self.clock = clock

    # -- helpers ------------------------------------------------------------------------------

    def _record_ids(self, refs: Sequence[RecordRef]) -> dict[RecordRef, RecordId]:
        found = self.store.records.ids(refs)
        for ref in refs:
            if ref not in found:
                raise UnknownRecord(ref.source, ref.key)
        return found

    def _snapshot(self, record_ids: Collection[RecordId]) -> dict[str, JSONValue]:
        """Which profile each record is in, as refs: the before/after of an audit entry."""
        refs = self.store.records.refs(record_ids)
        profiles = self.store.profiles.ids_of(record_ids)
        grouped: dict[str, list[JSONValue]] = {}
        for rid in sorted(record_ids, key=lambda r: refs[r]):
            grouped.setdefault(profiles.get(rid, ""), []).append(list(refs[rid]))
        return {"profiles": dict(sorted(grouped.items()))}

    def _act(
        self,
        action: str,
        actor: str,
        reason: str | None,
        target: str,
        records: Collection[RecordId],
        added: Sequence[Link],
        removed: Sequence[Link] = (),
        check: Callable[[], None] | None = None,
        undoes: int | None = None,
    ) -> ActionResult:
        """Apply link changes, re-resolve ``records``, check, and audit: all or nothing."""
        store = self.store
        with store.unit_of_work():
            before = self._snapshot(records)
            if removed:
                self._delete(removed)
            if added:
                store.links.put(added)
            self.resolver.resolve(records)
            if check is not None:
                check()
            after = self._snapshot(records)
            after["links_added"] = [link_document(x) for x in added]
            after["links_removed"] = [link_document(x) for x in removed]
            with_review_queue(store, after)
            action_id = self.audit.record(
                actor, action, target, reason, before=before, after=after, undoes=undoes
            )
            profiles = sorted(set(store.profiles.ids_of(records).values()))
        return ActionResult(action_id, profiles)

    def _with_profiles(self, record_ids: Collection[RecordId]) -> list[RecordId]:
        """The records and every record of their current profiles: what an action may move."""
        found = set(record_ids)
        profiles = set(self.store.profiles.ids_of(found).values())
        for rids in self.store.profiles.records_of(profiles).values():
            found.update(rids)
        return sorted(found)

    def _delete(self, links: Sequence[Link]) -> None:
        by_type: dict[LinkType, list[tuple[RecordId, RecordId]]] = {}
        for link in links:
            by_type.setdefault(link.type, []).append((link.a, link.b))
        for kind, pairs in by_type.items():
            self.store.links.delete(pairs, [kind])

    def _steward_link(
        self, a: RecordId, b: RecordId, kind: LinkType, actor: str, reason: str | None
    ) -> Link:
        return Link(a, b, kind, STEWARD, 1.0, {"by": actor, "reason": reason})

    # -- corrections --------------------------------------------------------------------------

    def merge_profiles(
        self, profile_ids: Sequence[str], reason: str | None, actor: str
    ) -> ActionResult:
        """Join profiles for good. Raises UnknownProfile, StewardConflict (fewer than two
        distinct profiles, or a steward's cannot-link between them)."""
        store = self.store
        resolved = store.profiles.resolve(profile_ids)
        for pid in profile_ids:
            if pid not in resolved:
                raise UnknownProfile(pid)
        live = sorted(set(resolved.values()))
        if len(live) < 2:
            raise StewardConflict("these ids are one profile already: nothing to merge")
        members = store.profiles.records_of(live)
        owner = {rid: pid for pid, rids in members.items() for rid in rids}
        records = sorted(owner)
        for link in store.links.of(records, types=[LinkType.CANNOT_LINK]):
            if link.a in owner and link.b in owner and owner[link.a] != owner[link.b]:
                refs = store.records.refs([link.a, link.b])
                raise StewardConflict(
                    f"a steward separated {refs[link.a].source}/{refs[link.a].key} and "
                    f"{refs[link.b].source}/{refs[link.b].key}, which these profiles hold: "
                    "undo that separation first"
                )
        # Every record is must-linked, not just one per profile: a record that shared only
        # an identifier with its profile could otherwise be pushed out by a limit once the
        # profiles are one, and the steward merged all of them.
        anchor = members[live[0]][0]
        added = [
            self._steward_link(anchor, rid, LinkType.MUST_LINK, actor, reason)
            for rid in records
            if rid != anchor
        ]
        return self._act("merge_profiles", actor, reason, ",".join(live), records, added)

    def separate_records(
        self, a: RecordRef, b: RecordRef, reason: str | None, actor: str
    ) -> ActionResult:
        """A cannot-link between two records. Raises UnknownRecord, StewardConflict when
        steward must-links hold them together."""
        ids = self._record_ids([a, b])
        ra, rb = ids[a], ids[b]
        if ra == rb:
            raise InvalidArgument("a record cannot be separated from itself")
        store = self.store
        records = self._with_profiles([ra, rb])
        added = [self._steward_link(ra, rb, LinkType.CANNOT_LINK, actor, reason)]

        def check() -> None:
            now = store.profiles.ids_of([ra, rb])
            if now.get(ra) is not None and now.get(ra) == now.get(rb):
                raise StewardConflict(
                    "steward must-links hold these records together: undo the merge or "
                    "split the profile instead"
                )

        return self._act(
            "separate_records",
            actor,
            reason,
            f"{a.source}/{a.key}|{b.source}/{b.key}",
            records,
            added,
            check=check,
        )

    def split_profile(
        self, profile_id: str, groups: Sequence[Sequence[RecordRef]], reason: str | None, actor: str
    ) -> ActionResult:
        """Divide a profile into the given groups of its records (every record in exactly
        one group). Raises UnknownProfile, UnknownRecord, InvalidArgument."""
        store = self.store
        live = store.profiles.resolve([profile_id]).get(profile_id)
        if live is None:
            raise UnknownProfile(profile_id)
        members = set(store.profiles.records_of([live])[live])
        if len(groups) < 2 or any(not g for g in groups):
            raise InvalidArgument("give at least two groups, none of them empty")
        flat = [ref for group in groups for ref in group]
        ids = self._record_ids(flat)
        if len(set(flat)) != len(flat):
            raise InvalidArgument("a record is named in more than one group")
        named = {ids[ref] for ref in flat}
        if named != members:
            missing = len(members - named)
            foreign = len(named - members)
            raise InvalidArgument(
                f"the groups must hold exactly the profile's {len(members)} records "
                f"({missing} missing, {foreign} from other profiles)"
            )
        parts = [sorted(ids[ref] for ref in group) for group in groups]
        group_of = {rid: i for i, part in enumerate(parts) for rid in part}
        removed = [
            x
            for x in store.links.of(sorted(members), types=[LinkType.MUST_LINK])
            if x.a in group_of and x.b in group_of and group_of[x.a] != group_of[x.b]
        ]
        added = [
            self._steward_link(part[0], rid, LinkType.MUST_LINK, actor, reason)
            for part in parts
            for rid in part[1:]
        ]
        added += [
            self._steward_link(parts[i][0], parts[j][0], LinkType.CANNOT_LINK, actor, reason)
            for i in range(len(parts))
            for j in range(i + 1, len(parts))
        ]

        def check() -> None:
            now = store.profiles.ids_of(sorted(members))
            for part in parts:
                if len({now.get(rid) for rid in part}) != 1:
                    raise StewardConflict("steward links elsewhere keep a group apart")

        return self._act(
            "split_profile", actor, reason, live, sorted(members), added, removed, check
        )

    def undo(self, action_id: int, reason: str | None, actor: str) -> ActionResult:
        """Reverse a steward action. Raises UnknownAction, StewardConflict (already undone,
        not a steward action, or one whose records were erased or deleted since)."""
        found = self.store.audit.get([action_id]).get(action_id)
        if found is None:
            raise UnknownAction(action_id)
        if found.entry.action not in UNDOABLE:
            raise StewardConflict(
                f"action {action_id} is {_with_article(found.entry.action)}, which cannot be "
                f"undone; steward actions can ({', '.join(sorted(UNDOABLE))})"
            )
        if found.undone_by is not None:
            raise StewardConflict(f"action {action_id} was undone already (by {found.undone_by})")
        after = found.entry.after
        restored, dropped = after.get("links_removed"), after.get("links_added")
        added = [link_from_document(x) for x in restored] if isinstance(restored, list) else []
        removed = [link_from_document(x) for x in dropped] if isinstance(dropped, list) else []
        linked = {r for x in added + removed for r in (x.a, x.b)}
        if len(self.store.records.refs(linked)) < len(linked):
            raise StewardConflict(
                f"action {action_id} joined or separated records that have been erased or "
                "deleted since: it cannot be undone"
            )
        records = self._with_profiles(linked)
        return self._act(
            "undo", actor, reason, str(action_id), records, added, removed, undoes=action_id
        )

    # -- the review queue ---------------------------------------------------------------------

    def review_queue(
        self, first: int = 50, after: str | None = None, order: ReviewOrder = ReviewOrder.PAIR
    ) -> ReviewPage:
        """Review pairs no steward has decided yet, page by page: by record ids, or most
        likely first. ``after`` is a cursor this method handed out for the same order."""
        if not 1 <= first <= 500:
            raise InvalidArgument(f"first must be between 1 and 500, got {first}")
        order = ReviewOrder(order)
        if order is ReviewOrder.PROBABILITY:
            pairs, more = self._by_probability(first, after)
        else:
            pairs, more = self._by_pair(first, after)
        store = self.store
        ends = sorted({r for x in pairs for r in (x.a, x.b)})
        refs = store.records.refs(ends)
        profiles = store.profiles.ids_of(ends)
        items = [
            ReviewPair(x, refs[x.a], refs[x.b], profiles.get(x.a), profiles.get(x.b))
            for x in pairs
            if x.a in refs and x.b in refs
        ]
        end = review_cursor(pairs[-1], order) if pairs else None
        return ReviewPage(items, end, more)

    def review_count(self) -> int:
        """How many review pairs no steward has decided yet (the whole queue's length)."""
        return review_queue_size(self.store)

    def _by_probability(self, first: int, after: str | None) -> tuple[list[Link], bool]:
        """A page by probability: the store leaves decided pairs out, so one statement."""
        position = _probability_position(after) if after else None
        found = self.store.links.of_type_by_weight(
            LinkType.REVIEW, after=position, limit=first + 1, without=DECISIONS
        )
        return found[:first], len(found) > first

    def _by_pair(self, first: int, after: str | None) -> tuple[list[Link], bool]:
        """A page by record ids: batches of review links, decided pairs skipped."""
        store = self.store
        position = _pair_position(after) if after else None
        pairs: list[Link] = []
        more = False
        while True:
            batch = store.links.of_type(LinkType.REVIEW, after=position, limit=first * 2)
            if not batch:
                break
            ends = sorted({r for x in batch for r in (x.a, x.b)})
            decided = {(x.a, x.b) for x in store.links.of(ends, types=DECISIONS)}
            for link in batch:
                if (link.a, link.b) in decided:
                    continue
                if len(pairs) == first:
                    more = True
                    break
                pairs.append(link)
            if more or len(batch) < first * 2:
                break
            position = (batch[-1].a, batch[-1].b)
        return pairs, more

    def capped_identifiers(self, limit: int = 100) -> list[IdentifierFlag]:
        """Identifiers that stopped linking because too many records share them."""
        return [
            f for f in self.store.records.flags(limit) if f.reason == IdentifierFlagReason.OVER_CAP
        ]

    def _review_link(self, a: RecordRef, b: RecordRef) -> tuple[Link, list[RecordId]]:
        ids = self._record_ids([a, b])
        ra, rb = ids[a], ids[b]
        found = [
            x for x in self.store.links.of([ra], types=[LinkType.REVIEW]) if {x.a, x.b} == {ra, rb}
        ]
        if not found:
            raise StewardConflict(
                f"{a.source}/{a.key} and {b.source}/{b.key} are not a pair in the review queue"
            )
        return found[0], self._with_profiles([ra, rb])

    def accept_match(
        self, a: RecordRef, b: RecordRef, reason: str | None, actor: str
    ) -> ActionResult:
        """A review pair is one person: it becomes a must-link."""
        link, records = self._review_link(a, b)
        added = [self._steward_link(link.a, link.b, LinkType.MUST_LINK, actor, reason)]
        target = f"{a.source}/{a.key}|{b.source}/{b.key}"
        return self._act("accept_match", actor, reason, target, records, added, [link])

    def reject_match(
        self, a: RecordRef, b: RecordRef, reason: str | None, actor: str
    ) -> ActionResult:
        """A review pair is two people: it becomes a cannot-link."""
        link, records = self._review_link(a, b)
        added = [self._steward_link(link.a, link.b, LinkType.CANNOT_LINK, actor, reason)]
        target = f"{a.source}/{a.key}|{b.source}/{b.key}"
        return self._act("reject_match", actor, reason, target, records, added, [link])

    # -- the profile change feed -------------------------------------------------------------

    def profile_changes(self, since: str | None = None, first: int = 1000) -> ProfileChangesPage:
        """Created, merged, split and deleted profile ids after the cursor ``since`` (from
        the beginning when None), oldest first, with the cursor to pass next time."""
        if not 1 <= first <= 10_000:
            raise InvalidArgument(f"first must be between 1 and 10000, got {first}")
        after = decode_int_cursor(since, "profile-changes") if since else 0
        found = self.store.profiles.changes(after=after, limit=first + 1)
        page = found[:first]
        return ProfileChangesPage(
            changes=page,
            cursor=profile_change_cursor(page[-1].seq if page else after),
            has_more=len(found) > first,
        )


def _with_article(noun: str) -> str:
    """``an ingest``, ``a merge``: the article by the sound of the first letter."""
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"
