"""Steward actions as properties: undo restores the partition, whatever the action."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from identity.graph import IdentityGraph
from identity.mapping import SourceMapping
from identity.model import RecordRef
from identity.rules import load_rules
from identity.store.sqlite import SQLiteStore

SHOP = {"source": "shop", "key": "id", "identifiers": {"email": "email", "alt": "email"}}


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
    for ref, pid in graph.store.iter_record_profiles():
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
    ids = graph.store.record_ids([RecordRef("shop", a), RecordRef("shop", b)])
    profiles = graph.store.profile_ids_of(list(ids.values()))
    pa, pb = profiles[ids[RecordRef("shop", a)]], profiles[ids[RecordRef("shop", b)]]
    if action == "merge":
        if pa == pb:
            return
        done = steward.merge_profiles([pa, pb], "test", "prop")
        # Their records are one profile now (a record a limit then holds off may leave).
        after = graph.store.profile_ids_of(list(ids.values()))
        assert len(set(after.values())) == 1
    elif action == "separate":
        if a == b or pa != pb:
            return
        done = steward.separate_records(RecordRef("shop", a), RecordRef("shop", b), "t", "prop")
        after = graph.store.profile_ids_of(list(ids.values()))
        assert len(set(after.values())) == 2
    else:
        members = graph.store.records_of_profiles([pa])[pa]
        if len(members) < 2:
            return
        refs = graph.store.record_refs(members)
        ordered = sorted(refs[r] for r in members)
        groups = [ordered[:1], ordered[1:]]
        done = steward.split_profile(pa, groups, "t", "prop")
        # Each group is in one profile of its own (records outside the profile, held off
        # by a limit before, may now join a part).
        homes = [
            set(graph.store.profile_ids_of(list(graph.store.record_ids(g).values())).values())
            for g in groups
        ]
        assert all(len(h) == 1 for h in homes) and homes[0] != homes[1]
    steward.undo(done.action_id, "t", "prop")
    assert _partition(graph) == before
    graph.close()
