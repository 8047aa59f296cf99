"""The storage contract for the profile read model (ProfileViewPort): rows in and out
unchanged, keyset scans, and the export page that reads only the columns asked for; and
how the Neo4j store marks the read model of a graph that gains it (complete when empty,
stale when it already held profiles; the embedded store's migration is tested in
test_sqlite.py).

The contract tests run once per backend (conftest.BACKENDS)."""

from __future__ import annotations

from dataclasses import replace

import neo4j
import pytest

from identity.model import ProfileViewRow, ViewColumn
from identity.profile_view import NEW, STATE_KEY
from identity.store.base import Store
from identity.store.neo4j import SCHEMA_VERSION, Neo4jStore, cypher
from identity.store.neo4j import profile_view as neo4j_profile_view
from tests.store.builders import BUYERS, EMAIL, T0, enter, ident, insert, make_profiles, rec
from tests.store.conftest import NoNeo4j, neo4j_server, open_neo4j

QUOTED = 'say "hi"'
"""An attribute name SQLite's JSON paths cannot spell."""


def row(pid: str, **changes: object) -> ProfileViewRow:
    """A row holding every kind of value a column can: unicode, nested and null golden
    values, several linking values, counts, a float, consent both ways."""
    full = ProfileViewRow(
        profile_id=pid,
        golden={
            "first_name": "Zoë",
            "last_name": "Ødegård-李",
            "address": {"city": "Malmö", "lines": ["1 Main St", None], "geo": [55.6, 13.0]},
            QUOTED: "quoted 🎉",
            "vip": True,
            "spend": 12.5,
            "nickname": None,
        },
        provenance={
            "first_name": ["crm", "k1", "2026-01-01T12:00:00+00:00", "most_recent", 2],
            "last_name": ["shop", "k2", None, "source_priority", 1],
        },
        identifiers=[
            ["email", "zoe@example.com", ["Zoe@Example.com", "zoe@example.com"], 2, True],
            ["email", "z2@example.com", ["z2@example.com"], 1, True],
            ["cookie_id", "c-1", ["c-1"], 40, False],
        ],
        linking={"email": ["zoe@example.com", "z2@example.com"], QUOTED: ["q-1"]},
        first_seen="2025-12-31T23:00:00-05:00",
        last_seen="2026-01-02T08:30:00+02:00",
        events=6,
        event_counts={"page_view": 3, "purchase": 2, "email_open": 1},
        orders=2,
        order_value=0.1 + 0.2,
        last_order="2026-01-02T08:30:00+02:00",
        consent={
            "email": {
                "granted": True,
                "at": "2026-01-01T12:00:00+00:00",
                "source": "crm",
                "via": "record",
                "reference": "k1",
            },
            "sms": {
                "granted": False,
                "at": "2026-01-02T12:00:00+00:00",
                "source": None,
                "via": "event",
                "reference": "ev-9",
            },
            QUOTED: {
                "granted": True,
                "at": "2026-01-02T12:00:00+00:00",
                "source": "shop",
                "via": "event",
                "reference": "ev-10",
            },
        },
        computed_at="2026-01-03T00:00:00+00:00",
    )
    return replace(full, **changes)  # type: ignore[arg-type]


def bare(pid: str) -> ProfileViewRow:
    """A row of a profile known by nothing but an identifier: no times, no events."""
    return ProfileViewRow(
        profile_id=pid,
        golden={},
        provenance={},
        identifiers=[["phone", "+447400123456", ["07400 123456"], 1, True]],
        linking={"phone": ["+447400123456"]},
        first_seen=None,
        last_seen=None,
        events=0,
        event_counts={},
        orders=0,
        order_value=0.0,
        last_order=None,
        consent={},
        computed_at="2026-01-03T00:00:00+00:00",
    )


# -- rows --------------------------------------------------------------------------------------


def test_rows_come_back_as_they_were_put_every_column(store: Store) -> None:
    rows = [row("p1"), bare("p2")]
    store.views.put(rows)
    got = store.views.get(["p1", "p2", "p3"])
    assert got == {"p1": rows[0], "p2": rows[1]}
    # Types too: counts stay ints, the order value a float, absent times None.
    assert isinstance(got["p1"].order_value, float) and got["p1"].order_value == 0.1 + 0.2
    assert isinstance(got["p2"].order_value, float)
    assert isinstance(got["p1"].events, int) and got["p2"].first_seen is None
    assert store.views.get([]) == {}


def test_putting_a_row_again_replaces_all_of_it(store: Store) -> None:
    store.views.put([row("p1"), bare("p2")])
    # Times that become unknown, documents that shrink, counts that change.
    replaced = replace(
        bare("p1"),
        golden={"first_name": "Zoe"},
        event_counts={"login": 1},
        events=1,
        order_value=3.0,
    )
    store.views.put([replaced])
    assert store.views.get(["p1", "p2"]) == {"p1": replaced, "p2": bare("p2")}


def test_put_and_delete_of_nothing_do_nothing(store: Store) -> None:
    store.views.put([])
    store.views.delete([])
    assert list(store.views.scan_ids()) == []


def test_deleting_rows_leaves_the_others_and_ignores_unknown_ids(store: Store) -> None:
    store.views.put([bare("p1"), bare("p2"), bare("p3")])
    store.views.delete(["p1", "p3", "nosuch"])
    assert store.views.get(["p1", "p2", "p3"]) == {"p2": bare("p2")}


def test_scan_ids_lists_every_row_ascending_across_batches(store: Store) -> None:
    ids = [f"P{i:03}" for i in range(25)]
    store.views.put([bare(pid) for pid in reversed(ids)])
    assert list(store.views.scan_ids(batch_size=7)) == ids
    assert list(store.views.scan_ids(batch_size=25)) == ids
    assert list(store.views.scan_ids()) == ids


def test_clear_deletes_every_row_and_says_how_many(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Neo4j deletes in bounded batches: make several of them.
    monkeypatch.setattr(neo4j_profile_view, "CLEAR_BATCH", 3)
    assert store.views.clear() == 0
    store.views.put([bare(f"P{i:02}") for i in range(10)])
    assert store.views.clear() == 10
    assert list(store.views.scan_ids()) == []
    store.views.put([bare("P99")])
    assert list(store.views.scan_ids()) == ["P99"]


def test_rows_are_written_with_the_unit_of_work_they_belong_to(store: Store) -> None:
    with pytest.raises(RuntimeError), store.unit_of_work():
        store.views.put([bare("p1")])
        assert store.views.get(["p1"]) == {"p1": bare("p1")}, "the unit sees its own write"
        raise RuntimeError("roll back")
    assert store.views.get(["p1"]) == {}


# -- export pages ------------------------------------------------------------------------------

EVERY_PART = [
    ViewColumn("golden", "first_name"),
    ViewColumn("golden", QUOTED),
    ViewColumn("golden", "address"),
    ViewColumn("golden", "vip"),
    ViewColumn("golden", "spend"),
    ViewColumn("golden", "nickname"),
    ViewColumn("golden", "no_such_attribute"),
    ViewColumn("linking", "email"),
    ViewColumn("linking", QUOTED),
    ViewColumn("linking", "phone"),
    ViewColumn("trait", "first_seen"),
    ViewColumn("trait", "last_seen"),
    ViewColumn("trait", "events"),
    ViewColumn("trait", "event_counts"),
    ViewColumn("trait", "orders"),
    ViewColumn("trait", "order_value"),
    ViewColumn("trait", "last_order"),
    ViewColumn("consent", "email"),
    ViewColumn("consent", "sms"),
    ViewColumn("consent", QUOTED),
    ViewColumn("consent", "post"),
    ViewColumn("golden", "first_name"),  # a column asked for twice comes twice
]


def members(store: Store, segment: str, *pids: str) -> None:
    store.segments.put(segment, BUYERS, T0)
    store.segments.apply_changes(enter(segment, *pids), T0)


def test_an_export_page_reads_each_column_as_the_port_says(store: Store) -> None:
    members(store, "buyers", "p1", "p2", "p3")
    members(store, "others", "p4")
    store.views.put([row("p1"), bare("p2"), bare("p4")])

    page = store.views.export_page("buyers", EVERY_PART)

    full = row("p1")
    assert page == [
        (
            "p1",
            (
                "Zoë",
                "quoted 🎉",
                full.golden["address"],
                True,
                12.5,
                None,
                None,
                "zoe@example.com",
                "q-1",
                None,
                "2025-12-31T23:00:00-05:00",
                "2026-01-02T08:30:00+02:00",
                6,
                {"page_view": 3, "purchase": 2, "email_open": 1},
                2,
                0.1 + 0.2,
                "2026-01-02T08:30:00+02:00",
                True,
                False,
                True,
                None,
                "Zoë",
            ),
        ),
        (
            "p2",
            (None,) * 7
            + (None, None, "+447400123456")
            + (None, None, 0, {}, 0, 0.0, None)
            + (None, None, None, None)
            + (None,),
        ),
        ("p3", None),
    ]
    values, no_times = page[0][1], page[1][1]
    assert values is not None and no_times is not None
    assert [type(v) for v in values[17:20]] == [bool, bool, bool]
    assert type(values[12]) is int and type(no_times[15]) is float


def test_an_export_page_of_a_member_without_a_row_is_none_whatever_the_columns(
    store: Store,
) -> None:
    members(store, "buyers", "p1", "p2")
    store.views.put([bare("p2")])
    assert store.views.export_page("buyers", [ViewColumn("golden", "first_name")]) == [
        ("p1", None),
        ("p2", (None,)),
    ]
    assert store.views.export_page("buyers", []) == [("p1", None), ("p2", ())]
    assert store.views.export_page("nosuch", EVERY_PART) == []


def test_export_pages_follow_the_member_ids_after_the_last_one(store: Store) -> None:
    ids = [f"P{i:02}" for i in range(11)]
    members(store, "buyers", *reversed(ids))
    store.views.put([row(pid, golden={"first_name": pid}) for pid in ids[::2]])
    column = [ViewColumn("golden", "first_name")]
    seen: list[tuple[str, tuple[object, ...] | None]] = []
    after: str | None = None
    while page := store.views.export_page("buyers", column, after=after, limit=4):
        assert len(page) <= 4
        seen += page
        after = page[-1][0]
    assert seen == [(pid, (pid,) if i % 2 == 0 else None) for i, pid in enumerate(ids)]
    assert store.views.export_page("buyers", column, after="P03", limit=2) == [
        ("P04", ("P04",)),
        ("P05", None),
    ]


@pytest.mark.parametrize(
    "column",
    [ViewColumn("trait", "recency"), ViewColumn("traits", "events"), ViewColumn("x", "y")],
    ids=["unknown trait", "unknown part", "nonsense"],
)
def test_an_export_of_a_column_the_read_model_does_not_hold_is_refused(
    store: Store, column: ViewColumn
) -> None:
    members(store, "buyers", "p1")
    with pytest.raises(ValueError):
        store.views.export_page("buyers", [column])


# -- metadata ----------------------------------------------------------------------------------


def test_a_new_store_holds_a_complete_empty_read_model(store: Store) -> None:
    assert store.meta.get(STATE_KEY) == NEW
    assert list(store.views.scan_ids()) == []


# -- a store gaining the read model ------------------------------------------------------------


def _neo4j_at_version_5() -> Neo4jStore:
    """The test server's graph emptied (no metadata left, so no read-model state) and put
    back to schema version 5, before the read model."""
    server = neo4j_server()
    assert not isinstance(server, NoNeo4j)
    uri, settings = server
    store = Neo4jStore(uri, **settings)
    store.copy.delete_everything()
    user, password = settings.get("user"), settings.get("password")
    driver = neo4j.GraphDatabase.driver(
        uri, auth=(user, password or "") if user else None, notifications_min_severity="OFF"
    )
    try:
        with driver.session(database=settings.get("database")) as session:
            session.run(cypher.statement("set_schema_version"), version=5).consume()
    finally:
        driver.close()
    return store


@pytest.mark.neo4j
@pytest.mark.parametrize(("with_profile", "state"), [(False, NEW), (True, None)])
def test_a_neo4j_graph_gaining_the_read_model_is_complete_only_without_profiles(
    with_profile: bool, state: str | None
) -> None:
    store = _neo4j_at_version_5()
    try:
        assert store.meta.names() == []
        if with_profile:
            (a,) = insert(store, rec("a", ident(EMAIL)))
            make_profiles(store, p1=[a])
    finally:
        store.close()
    reopened = open_neo4j_as_is()
    try:
        assert f"schema v{SCHEMA_VERSION}" in reopened.health().detail
        assert reopened.meta.get(STATE_KEY) == state
    finally:
        reopened.close()


def open_neo4j_as_is() -> Neo4jStore:
    """The test server's graph opened as it is (migrated, not emptied)."""
    server = neo4j_server()
    assert not isinstance(server, NoNeo4j)
    uri, settings = server
    return Neo4jStore(uri, **settings)


@pytest.mark.neo4j
def test_emptying_a_neo4j_graph_leaves_no_read_model_state() -> None:
    # As the embedded store's delete_everything, which deletes the metadata with the rest.
    store = open_neo4j()
    try:
        store.views.put([bare("p1")])
        store.copy.delete_everything()
        assert store.meta.names() == [] and list(store.views.scan_ids()) == []
    finally:
        store.close()
