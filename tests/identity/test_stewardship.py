"""Steward actions as properties: undo restores the partition, whatever the action; a
split gives every part but the largest a new id that knows its origin, and the profile
change feed accounts for every record that changed profile."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import count

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from identity.graph import IdentityGraph
from identity.mapping import SourceMapping
from identity.model import ProfileChangeKind, ProfileChangeRecord, RecordRef
from identity.rules import load_rules
from identity.store.sqlite import SQLiteStore

SHOP = {"source": "shop", "key": "id", "identifiers": {"email": "email", "alt": "email"}}
# With a customer id (one per profile), limits keep profiles apart that share an e-mail.
TILL = {
    "source": "till",
    "key": "id",
    "identifiers": {"email": "email", "alt": "email", "card": "customer_id"},
}


def _graph(emails: list[tuple[int, int]]) -> IdentityGraph:
    graph = IdentityGraph(SQLiteStore(":memory:"), load_rules())
    graph.ingest.register_source(SourceMapping.from_document(SHOP, rules=graph.rules))
    rows = [
        (n, {"id": f"r{n}", "email": f"e{a}@example.com", "alt": f"e{b}@example.com"})
        for n, (a, b) in enumerate(emails, 1)
    ]
    graph.ingest.ingest_rows("shop", rows)
    return graph


def _partition(graph: IdentityGraph) -> set[frozenset[str]]:
    groups: dict[str | None, set[str]] = {}
    for ref, pid in graph.store.records.scan_profiles():
        groups.setdefault(pid, set()).add(ref.key)
    return {frozenset(g) for g in groups.values()}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    emails=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=3, max_size=10),
    action=st.sampled_from(["merge", "separate", "split"]),
    picks=st.tuples(st.integers(0, 100), st.integers(0, 100)),
)
# A limit held r5 off the profile; once r1 is split off alone, r5 may join it.
@example(emails=[(0, 1), (0, 2), (0, 3), (0, 4), (0, 5)], action="split", picks=(0, 0))
@example(
    emails=[(0, 0), (0, 0), (0, 0), (0, 4), (1, 5), (0, 2), (0, 3)], action="merge", picks=(0, 4)
)
def test_undo_restores_the_partition_whatever_the_action(
    emails: list[tuple[int, int]], action: str, picks: tuple[int, int]
) -> None:
    graph = _graph(emails)
    steward = graph.stewardship
    before = _partition(graph)
    keys = sorted(f"r{n}" for n in range(1, len(emails) + 1))
    a, b = keys[picks[0] % len(keys)], keys[picks[1] % len(keys)]
    ids = graph.store.records.ids([RecordRef("shop", a), RecordRef("shop", b)])
    profiles = graph.store.profiles.ids_of(list(ids.values()))
    pa, pb = profiles[ids[RecordRef("shop", a)]], profiles[ids[RecordRef("shop", b)]]
    if action == "merge":
        if pa == pb:
            return
        done = steward.merge_profiles([pa, pb], "test", "prop")
        # Their records are one profile now (a record a limit then holds off may leave).
        after = graph.store.profiles.ids_of(list(ids.values()))
        assert len(set(after.values())) == 1
    elif action == "separate":
        if a == b or pa != pb:
            return
        done = steward.separate_records(RecordRef("shop", a), RecordRef("shop", b), "t", "prop")
        after = graph.store.profiles.ids_of(list(ids.values()))
        assert len(set(after.values())) == 2
    else:
        members = graph.store.profiles.records_of([pa])[pa]
        if len(members) < 2:
            return
        refs = graph.store.records.refs(members)
        ordered = sorted(refs[r] for r in members)
        groups = [ordered[:1], ordered[1:]]
        done = steward.split_profile(pa, groups, "t", "prop")
        # Each group is in one profile of its own (records outside the profile, held off
        # by a limit before, may now join a part).
        homes = [
            set(graph.store.profiles.ids_of(list(graph.store.records.ids(g).values())).values())
            for g in groups
        ]
        assert all(len(h) == 1 for h in homes) and homes[0] != homes[1]
    steward.undo(done.action_id, "t", "prop")
    assert _partition(graph) == before
    graph.close()


def profile_of_every_record(graph: IdentityGraph) -> dict[RecordRef, str]:
    found: dict[RecordRef, str] = {}
    for ref, pid in graph.store.records.scan_profiles():
        assert pid is not None, f"{ref} has no profile"
        found[ref] = pid
    return found


def last_change(graph: IdentityGraph) -> int:
    """The sequence number of the newest profile change (0 for none)."""
    seq, page = 0, graph.store.profiles.changes(limit=10_000)
    while page:
        seq = page[-1].seq
        page = graph.store.profiles.changes(after=seq, limit=10_000)
    return seq


def assert_every_move_is_logged(
    before: Mapping[RecordRef, str],
    after: Mapping[RecordRef, str],
    feed: Sequence[ProfileChangeRecord],
) -> None:
    """A consumer holding each record's old profile id can follow the feed to its new one:
    a split leads from a profile to the id split off it, a merge from the retired id to its
    survivor. A record whose profile changed with no such path moved silently."""
    leads: dict[str, set[str]] = {}
    for change in feed:
        assert change.related is not None or change.kind is ProfileChangeKind.CREATED
        if change.kind is ProfileChangeKind.SPLIT and change.related is not None:
            leads.setdefault(change.related, set()).add(change.profile_id)
        elif change.kind is ProfileChangeKind.MERGED and change.related is not None:
            leads.setdefault(change.profile_id, set()).add(change.related)
    for ref, old in before.items():
        new = after[ref]
        reached, frontier = {old}, [old]
        while frontier and new not in reached:
            for nxt in leads.get(frontier.pop(), ()):
                if nxt not in reached:
                    reached.add(nxt)
                    frontier.append(nxt)
        assert new in reached, f"{ref} moved from {old} to {new} and the feed does not say so"


def _till(rows: list[tuple[int, int, int | None]]) -> IdentityGraph:
    """A till's receipts; profile ids count up, so the profile of the first row is oldest."""
    graph = IdentityGraph(SQLiteStore(":memory:"), load_rules())
    numbers = count(1)
    graph.resolver.new_id = lambda: f"p{next(numbers):04d}"
    graph.ingest.register_source(SourceMapping.from_document(TILL, rules=graph.rules))
    graph.ingest.ingest_rows(
        "till",
        [
            (
                n,
                {
                    "id": f"r{n}",
                    "email": f"e{a}@example.com",
                    "alt": f"e{b}@example.com",
                    "card": f"C{card}" if card is not None else "",
                },
            )
            for n, (a, b, card) in enumerate(rows, 1)
        ],
    )
    return graph


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 4), st.none() | st.integers(0, 2)),
        min_size=3,
        max_size=10,
    ),
    pick=st.integers(0, 100),
    labels=st.lists(st.integers(0, 2), min_size=10, max_size=10),
)
# The shape: r3 carries the family e-mail e0 of r1 and r2 and its own e1, which
# r4 carries with another customer id: the limit keeps r4 apart. Split off, r3 joins r4.
@example(
    rows=[(0, 0, 0), (0, 0, None), (0, 1, None), (1, 1, 1)], pick=0, labels=[0, 0, 1] + [0] * 7
)
# The largest part joins an older profile (r1's, held off by the customer id): the original
# id follows it there as a merged id, and the smaller part gets a new one.
@example(
    rows=[(1, 1, 1), (0, 0, 0), (0, 1, None), (0, 1, None)], pick=0, labels=[0, 1, 1] + [0] * 7
)
def test_a_split_gives_each_part_but_the_largest_a_new_id_and_the_feed_logs_every_move(
    rows: list[tuple[int, int, int | None]], pick: int, labels: list[int]
) -> None:
    graph = _till(rows)
    store = graph.store
    before = profile_of_every_record(graph)
    sizes = Counter(before.values())
    shared = sorted(pid for pid, size in sizes.items() if size > 1)
    if not shared:
        graph.close()
        return
    original = shared[pick % len(shared)]
    members = sorted(ref for ref, pid in before.items() if pid == original)
    label = {ref: labels[i] for i, ref in enumerate(members)}
    if len(set(label.values())) == 1:
        label[members[0]] = label[members[0]] + 1
    groups = [[r for r in members if label[r] == value] for value in sorted(set(label.values()))]
    cursor = last_change(graph)

    done = graph.stewardship.split_profile(original, groups, "two people", "prop")

    after = profile_of_every_record(graph)
    feed = store.profiles.changes(after=cursor, limit=10_000)
    assert_every_move_is_logged(before, after, feed)
    homes = [{after[r] for r in group} for group in groups]
    assert all(len(h) == 1 for h in homes), "each part is one profile"
    home = [h.pop() for h in homes]
    assert len(set(home)) == len(groups), "no two parts share a profile"
    # The id stays with the largest part (following it into an older profile it joined).
    keeper = store.profiles.resolve([original])[original]
    (kept,) = [i for i, pid in enumerate(home) if pid == keeper]
    assert len(groups[kept]) == max(len(g) for g in groups)
    # Every other part has a new id split off the original, which is (or redirects to) the
    # profile the part is in now.
    split_off = [c.profile_id for c in feed if c.kind is ProfileChangeKind.SPLIT]
    origin = {c.profile_id: c.related for c in feed if c.kind is ProfileChangeKind.SPLIT}
    now = store.profiles.resolve(split_off)
    for i, group in enumerate(groups):
        if i != kept:
            assert any(origin[x] == original and now[x] == home[i] for x in split_off), group
            if home[i] in split_off:
                assert graph.profiles.get(home[i]).split_from == original
    assert sorted(done.profiles) == sorted(home)

    cursor = last_change(graph)
    graph.stewardship.undo(done.action_id, "not two people after all", "prop")
    assert _partition(graph) == {frozenset(r.key for r in before if before[r] == p) for p in sizes}
    assert_every_move_is_logged(
        after, profile_of_every_record(graph), store.profiles.changes(after=cursor, limit=10_000)
    )
    graph.close()
