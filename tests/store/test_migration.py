"""`idgraph migrate` as a use case: a store built by real ingest, matching and resolution is
copied into another store of either backend, and the copy is the same graph and goes on
working. Pairs with Neo4j run on the Neo4j leg (see conftest) and skip elsewhere."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from identity.demo.generator import DemoFiles, generate
from identity.graph import IdentityGraph
from identity.mapping import load_mapping
from identity.matching.matcher import ProbabilisticMatcher
from identity.migration import (
    STAGES,
    MigrationIncomplete,
    MigrationProgress,
    TargetNotEmpty,
    migrate_store,
)
from identity.model import (
    AuditEntry,
    Event,
    Identifier,
    Link,
    LinkType,
    MembershipChange,
    MembershipKind,
    ProfileChangeKind,
    ProfileChangeRecord,
    ProfileStatus,
    SourceRecord,
    StoredAuditEntry,
)
from identity.profile_view import NEW, STATE_KEY
from identity.readers import read_file
from identity.rules import load_rules
from identity.store.base import Store
from tests.store.conftest import BACKENDS

PAIRS = [("sqlite", "sqlite"), ("sqlite", "neo4j"), ("neo4j", "sqlite")]
# A copy carries the mark of each backend it touches: `-m neo4j` runs both Neo4j copies.
PAIR_PARAMS = [
    pytest.param(
        pair, marks=[getattr(pytest.mark, name) for name in sorted(set(pair))], id="->".join(pair)
    )
    for pair in PAIRS
]
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoFiles:
    return generate(tmp_path_factory.mktemp("migrate") / "demo", people=400, seed=5)


class Steady:
    """A clock and profile-id generator that two graphs can share step for step, so the
    same ingest into a store and into its copy must give the same result."""

    def __init__(self) -> None:
        self.ticks = itertools.count()
        self.ids = itertools.count()

    def now(self) -> datetime:
        return T0 + timedelta(seconds=next(self.ticks))

    def new_id(self) -> str:
        return f"P{next(self.ids):06}"


def graph_over(store: Store, steady: Steady) -> IdentityGraph:
    graph = IdentityGraph(store, load_rules(None))
    graph.resolver.clock = graph.ingest.clock = steady.now
    graph.resolver.new_id = steady.new_id
    return graph


def build(store: Store, demo: DemoFiles) -> None:
    """Every kind of thing a store holds, made the way the product makes it."""
    graph = graph_over(store, Steady())
    for path in sorted(demo.mappings_dir.glob("*.toml")):
        graph.ingest.register_source(load_mapping(path, rules=graph.rules))
    for source, path in sorted(demo.files.items()):
        graph.ingest.ingest_rows(source, read_file(path, graph.ingest.source(source).format))
    # Some records change later (updated_at after ingested_at).
    crm = graph.ingest.source("crm")
    moved = [
        (line, {**row, "city": "Elsewhere"})
        for line, row in itertools.islice(read_file(demo.files["crm"], crm.format), 5)
    ]
    assert graph.ingest.ingest_rows("crm", iter(moved)).updated == 5
    matcher = ProbabilisticMatcher(store, graph.rules, graph.resolver)
    matcher.train()
    matcher.link_all()
    # Steward decisions between records of two different profiles.
    ids = sorted(store.records.ids([ref for ref, _ in store.records.scan_profiles()]).values())
    store.links.put(
        [
            Link(ids[0], ids[-1], LinkType.CANNOT_LINK, "steward", 1.0, {"by": "ann"}),
            Link(ids[1], ids[-2], LinkType.MUST_LINK, "steward", 1.0, {"ticket": 42}),
        ]
    )
    add_events_and_segments(store)
    # An erased person: a suppression list, and a profile deleted for good.
    graph.erasure.erase("dpo", "DSAR 1", profile_ids=[next(store.profiles.scan_ids())])
    add_audit_log(store)
    # Households, and a steward's correction every later rebuild applies.
    graph.households.rebuild()
    first = next(h for page in store.households.scan() for h in page)
    graph.households.remove(first.members[0], "a lodger", "ann")


def add_events_and_segments(store: Store) -> None:
    """Events on the records' identifiers and on anonymous cookies, with their own offsets;
    segments with a replaced definition, members, exits by merge, and a deleted segment
    whose changes leave a gap in the log's seqs."""
    records = list(itertools.islice(store.records.scan(batch_size=500), 350))
    offsets = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))]
    events = [
        Event(
            event_id=f"ev-{n:04}",
            type=("page_view", "purchase", "email_open")[n % 3],
            timestamp=(T0 + timedelta(minutes=n // 2)).astimezone(offsets[n % 3]),
            identifiers=(
                record.record.identifiers[0],
                Identifier("cookie_id", f"ck-{n % 40}", f"CK-{n % 40}"),
            ),
            channel=("web", "app", None)[n % 3],
            source="webshop",
            properties={"order_value": n * 1.5, "skus": [f"s{n}"], "nested": {"x": None}},
        )
        for n, record in enumerate(r for r in records if r.record.identifiers)
    ]
    anonymous = [
        Event(f"anon-{n:03}", "page_view", T0, (Identifier("cookie_id", f"lost-{n}", None),))
        for n in range(50)
    ]
    store.events.put(events + anonymous, T0)
    live = list(itertools.islice(store.profiles.scan_ids(), 6))
    store.segments.put("buyers", {"where": {"event": "purchase"}}, T0)
    store.segments.put("buyers", {"where": {"event": "purchase", "within_days": 30}}, T1)
    store.segments.put("gone", {"where": {"and": []}}, T0)
    store.segments.put("vip", {"where": {"attribute": "tier", "eq": "gold"}}, T0)
    enter = MembershipKind.ENTERED
    store.segments.apply_changes(
        [MembershipChange("buyers", pid, enter) for pid in live[:4]]
        + [MembershipChange("gone", live[0], enter)],
        T0,
    )
    store.segments.apply_changes(
        [MembershipChange("buyers", live[3], MembershipKind.EXITED, merged_into=live[0])], T1
    )
    store.segments.delete("gone")
    store.segments.apply_changes([MembershipChange("vip", live[5], enter)], T1)


def add_audit_log(store: Store) -> None:
    """Audit entries over three pages of the copy (batch_size=300), logged at times with
    different offsets, and an undo in the newest page of an entry in the oldest: the copy
    must bring an undone entry before its undo."""
    actors, actions = ("loader", "steward-ann", "admin"), ("ingest", "merge_profiles", "export")
    entries = [
        AuditEntry(
            actors[n % 3],
            actions[n % 3],
            target=f"P{n:06}" if n % 2 else None,
            reason="confirmed by phone" if n % 5 == 0 else None,
            before={"profiles": [f"P{n:06}", f"P{n + 1:06}"]} if n % 3 == 1 else {},
            after={"accepted": n, "nested": {"ok": True, "none": None}},
        )
        for n in range(640)
    ]
    ids = store.audit.append(entries[:320], T0)
    ids += store.audit.append(entries[320:], T1.astimezone(timezone(timedelta(hours=2))))
    store.audit.append([AuditEntry("steward-bo", "undo", ids[1], "wrong merge", undoes=ids[1])], T1)


def change_log(store: Store) -> list[ProfileChangeRecord]:
    """The whole profile change log, read a page at a time by seq."""
    found: list[ProfileChangeRecord] = []
    after = 0
    while page := store.profiles.changes(after, limit=250):
        found += page
        after = page[-1].seq
    return found


def audit_log(store: Store) -> list[StoredAuditEntry]:
    """The whole audit log, newest first, read a page at a time by id."""
    found: list[StoredAuditEntry] = []
    before = None
    while page := store.audit.entries(before=before, limit=70):
        found += page
        before = page[-1].id
    return found


def snapshot(store: Store) -> dict[str, Any]:
    """Everything the store holds, with record ids replaced by refs (they are the
    store's own)."""
    records = list(store.records.scan(batch_size=500))
    ref_of = {r.record_id: r.ref for r in records}
    return {
        "sources": {name: store.sources.get(name) for name in store.sources.names()},
        "meta": {key: store.meta.get(key) for key in store.meta.names()},
        "profiles": list(store.copy.profiles(batch_size=500)),
        "flags": list(store.copy.identifier_flags(batch_size=500)),
        "records": {r.ref: (r.record, r.profile_id, r.ingested_at, r.updated_at) for r in records},
        "links": sorted(
            (ref_of[x.a], ref_of[x.b], x.type.value, x.matcher, round(x.weight, 12), x.evidence)
            for x in store.copy.links(batch_size=500)
        ),
        "match_index": {
            ref_of[row.record_id]: (row.fields, row.keys)
            for rows in store.matching.scan_rows(batch_size=500)
            for row in rows
        },
        "counts": store.counts(),
        "events": list(store.copy.events(batch_size=70)),
        "journeys": {
            pid: [e.event_id for e in found]
            for pid, found in store.events.of_profiles(list(store.profiles.scan_ids())).items()
            if found
        },
        "event_count": store.events.count(),
        "segments": store.segments.get(),
        "members": {s.name: store.segments.members(s.name) for s in store.segments.get()},
        "segment_sizes": store.segments.sizes(),
        "segment_changes": list(store.copy.segment_changes(batch_size=2)),
        "last_change_seq": store.segments.last_change_seq(),
        "profile_changes": change_log(store),
        "audit": audit_log(store),
        "suppressions": store.privacy.suppressions(limit=100_000),
        "households": [h for page in store.households.scan(batch_size=7) for h in page],
        "household_corrections": store.households.corrections(),
        # The read model's rows (when each was computed is the clock's, not the data's).
        "views": {
            pid: replace(row, computed_at="")
            for pid, row in store.views.get(list(store.views.scan_ids(batch_size=70))).items()
        },
    }


def continued(snap: dict[str, Any], copied: dict[str, Any]) -> dict[str, Any]:
    """``snap`` with the numbers handed out after the copy (change seqs, audit ids) replaced
    by their rank among the new ones: a store continues its sequences above every number
    it ever gave (Neo4j keeps them across ``delete_everything``), so only their order and
    their place above the copied ones are promised."""

    def renumber(numbers: list[int], old: set[int]) -> dict[int, Any]:
        new = sorted(n for n in numbers if n not in old)
        assert all(n > max(old, default=0) for n in new), "new numbers continue above"
        return {n: n if n in old else ("new", i) for i, n in enumerate(sorted(numbers))}

    out = dict(snap)
    seqs = renumber(
        [c.seq for c in snap["segment_changes"]], {c.seq for c in copied["segment_changes"]}
    )
    out["segment_changes"] = [replace(c, seq=seqs[c.seq]) for c in snap["segment_changes"]]
    out["last_change_seq"] = seqs.get(snap["last_change_seq"], snap["last_change_seq"])
    changes = renumber(
        [c.seq for c in snap["profile_changes"]], {c.seq for c in copied["profile_changes"]}
    )
    out["profile_changes"] = [replace(c, seq=changes[c.seq]) for c in snap["profile_changes"]]
    ids = renumber([e.id for e in snap["audit"]], {e.id for e in copied["audit"]})
    # Entries logged after the copy (the ingests) carry the wall-clock time and how long
    # the ingest took, which differ from store to store.
    out["audit"] = [
        replace(
            e,
            id=ids[e.id],
            at=e.at if e.id in ids and ids[e.id] == e.id else T0,
            undone_by=ids.get(e.undone_by) if e.undone_by else None,
            entry=replace(
                e.entry,
                undoes=ids.get(e.entry.undoes) if e.entry.undoes else None,
                after={k: v for k, v in e.entry.after.items() if k != "seconds"},
            ),
        )
        for e in snap["audit"]
    ]
    return out


@pytest.fixture(params=PAIR_PARAMS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    source_backend, target_backend = request.param
    # The Neo4j one first: it is the one that may skip.
    opened: dict[str, Store] = {}
    for role, backend in sorted(
        [("source", source_backend), ("target", target_backend)], key=lambda x: x[1]
    ):
        if backend == "neo4j":
            opened[role] = BACKENDS[backend](tmp_path)
    for role, backend in (("source", source_backend), ("target", target_backend)):
        if role not in opened:
            opened[role] = BACKENDS[backend](tmp_path / role)
    yield opened["source"], opened["target"]
    for store in opened.values():
        store.close()


def test_a_resolved_store_is_copied_whole_and_the_copy_goes_on_working(
    stores: tuple[Store, Store], demo: DemoFiles, tmp_path: Path
) -> None:
    source, target = stores
    build(source, demo)
    before = snapshot(source)
    # The store must hold every kind of thing, or the comparison proves little.
    statuses = {p.status for p in before["profiles"]}
    assert statuses >= {ProfileStatus.LIVE, ProfileStatus.MERGED}
    assert any(p.redirect_to for p in before["profiles"])
    assert any(p.merged_from for p in before["profiles"])
    assert before["flags"] and "match_model" in before["meta"] and len(before["sources"]) >= 4
    assert {link[2] for link in before["links"]} == {t.value for t in LinkType}
    assert any(r[2] != r[3] for r in before["records"].values())
    assert len(before["match_index"]) == len(before["records"])
    assert before["journeys"] and before["event_count"] == len(before["events"]) > 300
    assert {e.timestamp.utcoffset() for e in before["events"]} == {
        timedelta(0),
        timedelta(hours=2),
        timedelta(hours=-5),
    }
    assert any(s.created_at != s.updated_at for s in before["segments"])
    assert before["members"]["buyers"] and before["members"]["vip"]
    assert any(c.merged_into for c in before["segment_changes"])
    seqs = [c.seq for c in before["segment_changes"]]
    assert seqs != list(range(1, len(seqs) + 1)), "the deleted segment left a gap"
    assert any(p.split_from for p in before["profiles"])
    kinds = {r.kind for r in before["profile_changes"]}
    assert kinds >= {ProfileChangeKind.CREATED, ProfileChangeKind.MERGED, ProfileChangeKind.SPLIT}
    assert len(before["profile_changes"]) > 300 and len(before["audit"]) > 600
    assert any(e.undone_by for e in before["audit"])
    assert before["suppressions"]
    assert len({e.at.utcoffset() for e in before["audit"]}) == 2
    assert len(before["views"]) == before["counts"].profiles
    assert before["households"] and before["household_corrections"]
    assert isinstance(before["meta"]["profile_view"], str), "a view built with the rules"

    # A target that held records once: its ids are ahead of the source's, so links
    # must be carried across by ref, not by id.
    target.records.upsert([SourceRecord("old", f"o{i}") for i in range(7)], T0)
    with pytest.raises(TargetNotEmpty, match=r"7 records.*--replace"):
        migrate_store(source, target)
    seen: list[MigrationProgress] = []
    report = migrate_store(source, target, replace=True, batch_size=300, progress=seen.append)

    assert snapshot(target) == before
    assert snapshot(source) == before
    refs = list(before["records"])
    assert source.records.ids(refs) != target.records.ids(refs)
    assert (report.records, report.links, report.replaced) == (
        len(before["records"]),
        len(before["links"]),
        True,
    )
    assert report.profiles == len(before["profiles"]) and report.counts == before["counts"]
    assert [p.stage for p in seen if p.done == p.total] == list(STAGES)
    assert max(p.done for p in seen if p.stage == "records") == len(refs)
    assert (report.events, report.segments, report.segment_changes) == (
        len(before["events"]),
        len(before["segments"]),
        len(before["segment_changes"]),
    )
    assert (report.profile_changes, report.audit_entries, report.suppressions) == (
        len(before["profile_changes"]),
        len(before["audit"]),
        len(before["suppressions"]),
    )

    # The same new data into both: a bridging record merges two profiles, an update moves
    # one, new people arrive. The copy must end where the original ends, with fresh ids.
    steady_source, steady_target = Steady(), Steady()
    for steady in (steady_source, steady_target):
        steady.ids = itertools.count(900_000)
    for store, steady in ((source, steady_source), (target, steady_target)):
        graph = graph_over(store, steady)
        for name, batch in _more_rows(demo).items():
            report_ = graph.ingest.ingest_rows(name, iter(batch))
            assert report_.rejected == 0, report_.errors
        # The change log goes on from the same seq, and new events join the journeys.
        store.segments.apply_changes(
            [MembershipChange("vip", "P900000", MembershipKind.ENTERED)], T1
        )
        store.events.put(
            [Event("ev-new", "login", T1, (Identifier("cookie_id", "ck-1", None),))], T1
        )
        # The audit log goes on above the copied ids, and an undo finds its entry.
        oldest = before["audit"][-1].id
        store.audit.append([AuditEntry("steward-cy", "undo", undoes=oldest)], T1)
    after_source, after_target = snapshot(source), snapshot(target)
    assert continued(after_target, before) == continued(after_source, before)
    assert after_target["counts"].records == len(refs) + 3
    assert after_target["audit"][0].id > before["audit"][0].id
    assert after_target["audit"][-1].undone_by == after_target["audit"][0].id
    assert after_target["profile_changes"][-1].seq > before["profile_changes"][-1].seq
    imported = target.records.ids(refs).values()
    new_ids = target.records.ids(set(after_target["records"]) - set(refs)).values()
    assert min(new_ids) > max(imported)


@pytest.fixture(scope="module")
def journeys(tmp_path_factory: pytest.TempPathFactory) -> DemoFiles:
    return generate(
        tmp_path_factory.mktemp("migrate-views") / "demo", people=60, seed=11, events=400
    )


def test_the_read_model_is_copied_fresh_and_equals_a_recomputation_in_the_target(
    stores: tuple[Store, Store], journeys: DemoFiles
) -> None:
    source, target = stores
    graph = graph_over(source, Steady())
    for path in sorted(journeys.mappings_dir.glob("*.toml")):
        graph.ingest.register_source(load_mapping(path, rules=graph.rules))
    for name, path in sorted(journeys.files.items()):
        graph.ingest.ingest_rows(name, read_file(path, graph.ingest.source(name).format))
    assert journeys.events_file is not None
    graph.events.ingest_rows(read_file(journeys.events_file, "jsonl"))
    assert graph.views.check() == [] and graph.views.fresh()

    migrate_store(source, target, batch_size=25)

    copied = graph_over(target, Steady())
    assert len(list(target.views.scan_ids())) == target.counts().profiles > 25
    assert target.meta.get(STATE_KEY) == source.meta.get(STATE_KEY) == copied.views.fingerprint
    assert copied.views.fresh()
    assert copied.views.check() == [], "no row differs from a recomputation in the target"


def test_a_stale_read_model_is_copied_stale(stores: tuple[Store, Store]) -> None:
    source, target = stores
    # Emptying leaves no marker: as a store that held profiles before the read model.
    source.copy.delete_everything()
    graph = graph_over(source, Steady())
    record = SourceRecord("crm", "a", (Identifier("email", "a@x.io", "a@x.io"),))
    graph.ingest.write_records([record], "crm")
    assert source.meta.get(STATE_KEY) is None and not graph.views.fresh()
    assert target.meta.get(STATE_KEY) == NEW, "a new target's (empty) view is complete"

    migrate_store(source, target)

    assert list(target.views.scan_ids()) == list(source.views.scan_ids())
    assert not graph_over(target, Steady()).views.fresh()


def _more_rows(demo: DemoFiles) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """Rows for the demo's CRM source: a new record carrying one person's e-mail and
    another's phone (a bridge), an existing record given a third person's e-mail, and two
    new people."""
    crm = load_mapping(demo.mappings_dir / "crm.toml", rules=load_rules(None))
    rows = [row for _, row in itertools.islice(read_file(demo.files["crm"], crm.format), 3)]
    first, second, third = rows
    bridge = {"customer_no": "bridge-1", "email": first["email"], "mobile": second["mobile"]}
    return {
        "crm": [
            (2, bridge),
            (3, {**third, "email": second["email"]}),
            (4, {**second, "customer_no": "new-2", "email": "new.person.two@example.com"}),
            (5, {"customer_no": "new-3", "email": "new.person.three@example.com"}),
        ]
    }


@pytest.mark.sqlite
def test_a_target_that_is_not_empty_is_refused_and_left_alone(tmp_path: Path) -> None:
    source, target = BACKENDS["sqlite"](tmp_path / "a"), BACKENDS["sqlite"](tmp_path / "b")
    try:
        source.records.upsert([SourceRecord("crm", "1")], T0)
        target.meta.set("match_model", {"keep": True})
        with pytest.raises(TargetNotEmpty, match="metadata match_model"):
            migrate_store(source, target)
        assert target.meta.get("match_model") == {"keep": True}
        assert target.counts().records == 0
    finally:
        source.close()
        target.close()


@pytest.mark.sqlite
def test_a_source_that_changes_during_the_copy_is_reported(tmp_path: Path) -> None:
    source, target = BACKENDS["sqlite"](tmp_path / "a"), BACKENDS["sqlite"](tmp_path / "b")
    try:
        source.records.upsert([SourceRecord("crm", str(i)) for i in range(10)], T0)

        def write_meanwhile(progress: MigrationProgress) -> None:
            # After the records are copied: the late one is missed.
            if progress.stage == "links" and progress.done == 0:
                source.records.upsert([SourceRecord("crm", "late")], T0)

        with pytest.raises(MigrationIncomplete, match=r"source 11 records.*target 10 records"):
            migrate_store(source, target, batch_size=5, progress=write_meanwhile)
    finally:
        source.close()
        target.close()
