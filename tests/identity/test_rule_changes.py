"""Rule changes on a stored graph (identity/rule_changes): the diff is the apply rolled
back, so its numbers are the apply's; an undo restores the partition; a value blocklisted
after the fact splits the cluster it joined; steward decisions hold across a change; and a
change no rebase can make is refused naming its setting. On both stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from identity.errors import ConfigError, NothingToUndo
from identity.graph import IdentityGraph
from identity.mapping import SourceMapping
from identity.matching.matcher import MATCHER
from identity.model import IdentifierFlagReason, Link, LinkType, RecordRef
from identity.rule_changes.active import active_rules
from identity.rule_changes.rebase import APPLY, UNDO, RuleChanges
from identity.rules import rules_from_text, rules_text
from identity.store.sqlite import SQLiteStore
from tests.store.conftest import BACKENDS, backend_params

PACKAGED = rules_text()
SHOP = {
    "source": "shop",
    "key": "id",
    "identifiers": {"email": "email", "alt": "email", "phone": "phone", "card": "customer_id"},
    "attributes": {"first": {"name": "first_name", "type": "name"}},
}
JUNK = "orders@cornershop.example"
"""The shop's own address, typed by the till for every walk-in customer."""


def with_blocked(text: str, kind: str, *values: str) -> str:
    """The rules text with ``values`` added to the blocklist of ``kind``."""
    table = text.index("[blocklist]\n")
    at = text.index(f"\n{kind} = [", table) + len(f"\n{kind} = [")
    return text[:at] + "".join(f'"{v}", ' for v in values) + text[at:]


def with_setting(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def with_kind_setting(text: str, kind: str, name: str, value: str) -> str:
    """The rules text with ``name = value`` in the table of ``kind`` (replaced or added)."""
    start = text.index(f"[kinds.{kind}]\n")
    end = text.index("\n[", start + 1)
    table = text[start:end]
    lines = [line for line in table.split("\n") if not line.startswith(f"{name} =")]
    lines.insert(1, f"{name} = {value}")
    return text[:start] + "\n".join(lines) + text[end:]


@pytest.fixture(params=backend_params())
def graph(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IdentityGraph]:
    store = BACKENDS[request.param](tmp_path)
    opened = IdentityGraph(store, rules_from_text(PACKAGED, "packaged"))
    opened.ingest.register_source(SourceMapping.from_document(SHOP, rules=opened.rules))
    yield opened
    opened.close()


def ingest(graph: IdentityGraph, rows: list[dict[str, str]]) -> None:
    graph.ingest.ingest_rows("shop", list(enumerate(rows, 1)))


def partition(graph: IdentityGraph) -> set[frozenset[str]]:
    groups: dict[str | None, set[str]] = {}
    for ref, pid in graph.store.records.scan_profiles():
        groups.setdefault(pid or ref.key, set()).add(ref.key)
    return {frozenset(g) for g in groups.values()}


def profile_of(graph: IdentityGraph, *keys: str) -> list[str | None]:
    ids = graph.store.records.ids([RecordRef("shop", k) for k in keys])
    found = graph.store.profiles.ids_of(list(ids.values()))
    return [found.get(ids[RecordRef("shop", k)]) for k in keys]


WALK_INS = [
    # Ann twice (her own address), Bob and Cat once: all four carry the till's address.
    {"id": "a1", "email": "ann@mail.example", "first": "Ann"},
    {"id": "a2", "email": "ann@mail.example", "alt": JUNK, "first": "Ann"},
    {"id": "a3", "email": JUNK, "first": "Ann"},
    {"id": "b1", "email": JUNK, "phone": "+447911123456", "first": "Bob"},
    {"id": "c1", "email": JUNK, "first": "Cat", "phone": "+447911123457"},
]


def test_a_value_blocklisted_after_the_fact_splits_the_cluster_it_joined(
    graph: IdentityGraph,
) -> None:
    ingest(graph, WALK_INS)
    assert partition(graph) == {frozenset({"a1", "a2", "a3", "b1", "c1"})}
    (before,) = set(profile_of(graph, "a1"))
    changes = RuleChanges(graph, PACKAGED)

    report = changes.apply(
        with_blocked(PACKAGED, "email", JUNK), "cli:test", "the till's own address"
    )

    assert partition(graph) == {
        frozenset({"a1", "a2"}),
        frozenset({"a3"}),
        frozenset({"b1"}),
        frozenset({"c1"}),
    }
    # The largest part keeps the id; the others are new ids split off it.
    assert profile_of(graph, "a1", "a2") == [before, before]
    assert report.split == 1 and report.merged == 0 and report.stayed == 0
    assert (report.profiles_before, report.profiles_after, report.records_moved) == (1, 4, 3)
    assert report.stopped_linking == 1 and report.started_linking == 0
    assert report.changes == [f"blocklist.email: + {JUNK}"]
    (largest,) = report.largest
    assert largest.kind == "split" and largest.records == 3
    assert [p.id for p in largest.before] == [before]
    assert all(p.id is not None and p.id != before for p in largest.after)
    (flag,) = graph.store.records.flags()
    assert flag.reason is IdentifierFlagReason.BLOCKLISTED and flag.key.value == JUNK
    (entry,) = graph.store.audit.entries(action=APPLY)
    assert entry.entry.reason == "the till's own address"
    assert entry.entry.after["changes"] == [f"blocklist.email: + {JUNK}"]
    assert entry.entry.after["counts"] == report.counts()
    active = active_rules(graph.store)
    assert active is not None and JUNK in active.text and active.audit_id == entry.id


def test_a_diff_reports_what_the_apply_then_does_and_stores_nothing(
    graph: IdentityGraph,
) -> None:
    ingest(graph, WALK_INS)
    graph.segments.define("has-phone", {"where": {"identifier": "phone"}}, actor="test")
    new = with_blocked(PACKAGED, "email", JUNK)
    store = graph.store
    seen = (
        store.counts(),
        partition(graph),
        dict(store.records.scan_profiles()),
        len(store.audit.entries()),
        store.profiles.changes(limit=10_000),
        store.segments.last_change_seq(),
        store.records.flags(),
        store.meta.get("rules.active"),
    )
    changes = RuleChanges(graph, PACKAGED)

    diff = changes.diff(new)

    assert seen == (
        store.counts(),
        partition(graph),
        dict(store.records.scan_profiles()),
        len(store.audit.entries()),
        store.profiles.changes(limit=10_000),
        store.segments.last_change_seq(),
        store.records.flags(),
        store.meta.get("rules.active"),
    )
    assert not diff.applied and diff.audit_id is None
    # Bob and Cat hold phones: each enters as a profile of their own, and the profile they
    # leave, Ann's (it keeps its id), holds none any more and exits.
    assert diff.segments == {"has-phone": (2, 1)}
    applied = changes.apply(new, "cli:test", "same change")
    assert applied.counts() == diff.counts()
    assert [c.partition() for c in applied.largest] == [c.partition() for c in diff.largest]
    assert [c.kind for c in applied.largest] == [c.kind for c in diff.largest]


def test_steward_decisions_hold_across_a_rule_change(graph: IdentityGraph) -> None:
    ingest(graph, WALK_INS)
    ids = graph.store.records.ids([RecordRef("shop", k) for k in ("a3", "b1", "a1")])
    a3, b1, a1 = (ids[RecordRef("shop", k)] for k in ("a3", "b1", "a1"))
    # A steward knows a3 and b1 are one person (Bob wrote Ann's name on his receipt), and
    # that Ann is not Cat, whatever the till's address says.
    c1 = graph.store.records.ids([RecordRef("shop", "c1")])[RecordRef("shop", "c1")]
    with graph.store.unit_of_work():
        graph.store.links.put(
            [
                Link(a3, b1, LinkType.MUST_LINK, "steward"),
                Link(a1, c1, LinkType.CANNOT_LINK, "steward"),
            ]
        )
        graph.resolver.resolve([a1, a3, b1, c1])

    RuleChanges(graph, PACKAGED).apply(with_blocked(PACKAGED, "email", JUNK), "cli:t", "junk")

    assert partition(graph) == {
        frozenset({"a1", "a2"}),
        frozenset({"a3", "b1"}),
        frozenset({"c1"}),
    }
    kept = graph.store.links.of([a1, a3], types=(LinkType.MUST_LINK, LinkType.CANNOT_LINK))
    assert {(x.type, x.matcher) for x in kept} == {
        (LinkType.MUST_LINK, "steward"),
        (LinkType.CANNOT_LINK, "steward"),
    }


def test_undo_puts_back_the_links_and_profiles_a_raised_threshold_changed(
    graph: IdentityGraph,
) -> None:
    ingest(
        graph,
        [
            {"id": "p1", "email": "p1@mail.example", "first": "Pat"},
            {"id": "p2", "email": "p2@mail.example", "first": "Pat"},
            {"id": "p3", "email": "p3@mail.example", "first": "Pam"},
        ],
    )
    ids = graph.store.records.ids([RecordRef("shop", k) for k in ("p1", "p2", "p3")])
    p1, p2, p3 = (ids[RecordRef("shop", k)] for k in ("p1", "p2", "p3"))
    evidence = {"fields": {"first_name": {"level": "exact", "weight": 3.2}}}
    with graph.store.unit_of_work():
        graph.store.links.put(
            [
                Link(p1, p2, LinkType.MATCH, MATCHER, 0.97, evidence),
                Link(p2, p3, LinkType.REVIEW, MATCHER, 0.7, evidence),
            ]
        )
        graph.resolver.resolve([p1, p2, p3], matcher_links_only=True)
    before = partition(graph)
    assert before == {frozenset({"p1", "p2"}), frozenset({"p3"})}
    new = with_setting(
        with_setting(PACKAGED, "link_threshold = 0.95", "link_threshold = 0.99"),
        "review_threshold = 0.6",
        "review_threshold = 0.8",
    )
    changes = RuleChanges(graph, PACKAGED)

    report = changes.apply(new, "cli:test", "stricter")

    assert (report.links_to_review, report.links_removed, report.split) == (1, 1, 1)
    assert partition(graph) == {frozenset({"p1"}), frozenset({"p2"}), frozenset({"p3"})}
    stored = {(x.a, x.b): x.type for x in graph.store.links.of([p1, p2, p3])}
    assert stored == {(min(p1, p2), max(p1, p2)): LinkType.REVIEW}

    undone = RuleChanges(graph, new).undo("cli:test", "too strict")

    assert partition(graph) == before
    stored = {(x.a, x.b): x.type for x in graph.store.links.of([p1, p2, p3])}
    assert stored == {
        (min(p1, p2), max(p1, p2)): LinkType.MATCH,
        (min(p2, p3), max(p2, p3)): LinkType.REVIEW,
    }
    assert undone.links_to_match == 1 and undone.merged == 2
    (apply_entry,) = graph.store.audit.entries(action=APPLY)
    (undo_entry,) = graph.store.audit.entries(action=UNDO)
    assert undo_entry.entry.undoes == apply_entry.id and apply_entry.undone_by == undo_entry.id
    active = active_rules(graph.store)
    assert active is not None and active.text == PACKAGED
    with pytest.raises(NothingToUndo):
        RuleChanges(graph, PACKAGED).undo("cli:test", "again")


@pytest.mark.sqlite
@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        (
            '[kinds.customer_id]\nnormaliser = "id"',
            '[kinds.customer_id]\nnormaliser = "email"',
            "normaliser",
        ),
        (
            '[kinds.cookie_id]\nnormaliser = "id"\ncase = "keep"',
            '[kinds.cookie_id]\nnormaliser = "id"\ncase = "lower"',
            "case",
        ),
        ("remove_dots = true", "remove_dots = false", "providers"),
    ],
)
def test_a_change_to_how_stored_values_were_normalised_is_refused_naming_it(
    old: str, new: str, field: str
) -> None:
    graph = IdentityGraph(SQLiteStore(":memory:"), rules_from_text(PACKAGED, "packaged"))
    with pytest.raises(ConfigError, match="re-ingest") as refused:
        RuleChanges(graph, PACKAGED).diff(with_setting(PACKAGED, old, new))
    assert refused.value.field is not None and refused.value.field.endswith(field)


@pytest.mark.sqlite
def test_removing_a_declared_kind_is_refused_and_a_reason_is_required() -> None:
    graph = IdentityGraph(SQLiteStore(":memory:"), rules_from_text(PACKAGED, "packaged"))
    start = PACKAGED.index("[kinds.account_id]")
    end = PACKAGED.index("[kinds.", start + 1)
    with pytest.raises(ConfigError, match="links = false") as refused:
        RuleChanges(graph, PACKAGED).diff(PACKAGED[:start] + PACKAGED[end:])
    assert refused.value.field == "kinds.account_id"
    with pytest.raises(ConfigError, match="reason"):
        RuleChanges(graph, PACKAGED).apply(PACKAGED, "cli:test", "  ")
    with pytest.raises(NothingToUndo):
        RuleChanges(graph, PACKAGED).undo("cli:test", "nothing applied")


# -- a property: apply then undo restores the partition, and the diff foretold the apply ---

POOL = [f"e{n}@mail.example" for n in range(5)]
PHONES = [f"+4479111234{n:02d}" for n in range(4)]


def _random_graph(rows: list[tuple[int, int, int]]) -> IdentityGraph:
    graph = IdentityGraph(SQLiteStore(":memory:"), rules_from_text(PACKAGED, "packaged"))
    graph.ingest.register_source(SourceMapping.from_document(SHOP, rules=graph.rules))
    ingest(
        graph,
        [
            {
                "id": f"r{n}",
                "email": POOL[email],
                "phone": PHONES[phone] if phone < len(PHONES) else "",
                "first": ["Ann", "Bob"][first % 2],
                "card": f"C{n % 3}",
            }
            for n, (email, phone, first) in enumerate(rows)
        ],
    )
    return graph


CHANGES = st.sampled_from(
    [
        ("blocklist", "email", 0),
        ("blocklist", "email", 1),
        ("blocklist", "phone", 0),
        ("cap", "email", 2),
        ("cap", "phone", 1),
        ("limit", "customer_id", 2),
        ("links", "phone", 0),
    ]
)


def _changed(change: tuple[str, str, int]) -> str:
    what, kind, n = change
    if what == "blocklist":
        return with_blocked(PACKAGED, kind, (POOL if kind == "email" else PHONES)[n])
    if what == "cap":
        return with_kind_setting(PACKAGED, kind, "cardinality_cap", str(n))
    if what == "limit":
        return with_kind_setting(PACKAGED, kind, "max_per_profile", str(n))
    return with_kind_setting(PACKAGED, kind, "links", "false")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 5), st.integers(0, 1)), min_size=2, max_size=9
    ),
    change=CHANGES,
)
@example(rows=[(0, 0, 0), (0, 0, 1), (1, 0, 0), (0, 9, 0)], change=("blocklist", "email", 0))
def test_apply_then_undo_restores_the_partition_and_the_diff_foretold_the_apply(
    rows: list[tuple[int, int, int]], change: tuple[str, str, int]
) -> None:
    graph = _random_graph(rows)
    before = partition(graph)
    new = _changed(change)
    changes = RuleChanges(graph, PACKAGED)

    diff = changes.diff(new)
    assert partition(graph) == before
    applied = changes.apply(new, "cli:test", "property")

    assert applied.counts() == diff.counts()
    assert [c.partition() for c in applied.largest] == [c.partition() for c in diff.largest]
    assert applied.profiles_after == len(partition(graph))
    RuleChanges(IdentityGraph(graph.store, rules_from_text(new, "new")), new).undo(
        "cli:test", "back"
    )
    assert partition(graph) == before


def test_a_value_added_for_any_kind_is_found_whatever_its_case_and_splits_its_cluster(
    graph: IdentityGraph,
) -> None:
    ingest(
        graph,
        [
            {"id": "w1", "card": "Walk-In", "first": "Ann"},
            {"id": "w2", "card": "WALK-IN", "first": "Bob"},
            {"id": "w3", "card": "C100", "first": "Cat"},
        ],
    )
    assert partition(graph) == {frozenset({"w1", "w2"}), frozenset({"w3"})}
    new = with_blocked(PACKAGED, "any", "walk-in")

    report = RuleChanges(graph, PACKAGED).apply(new, "cli:test", "till placeholder")

    assert report.changes == ["blocklist.any: + walk-in"]
    assert (report.stopped_linking, report.split) == (1, 1)
    assert partition(graph) == {frozenset({"w1"}), frozenset({"w2"}), frozenset({"w3"})}


def test_a_survivorship_change_recomputes_every_golden_record_and_moves_no_record(
    graph: IdentityGraph,
) -> None:
    crm = {**SHOP, "source": "crm", "priority": 90}
    graph.ingest.register_source(SourceMapping.from_document(crm, rules=graph.rules))
    ingest(
        graph,
        [
            {"id": "s1", "email": "ann@mail.example", "first": "Ann"},
            {"id": "s2", "email": "ann@mail.example", "first": "Ann"},
        ],
    )
    graph.ingest.ingest_rows(
        "crm", [(1, {"id": "c1", "email": "ann@mail.example", "first": "Annie"})]
    )
    (pid,) = set(profile_of(graph, "s1"))
    assert pid is not None

    def first_name() -> object:
        return graph.store.views.get([pid])[pid].golden["first_name"]

    assert first_name() == "Annie"
    frequent_first = with_setting(
        PACKAGED,
        'default = ["source_priority", "most_recent", "most_frequent"]',
        'default = ["most_frequent", "source_priority", "most_recent"]',
    )
    changes = RuleChanges(graph, PACKAGED)

    diff = changes.diff(frequent_first)
    assert first_name() == "Annie"
    applied = changes.apply(frequent_first, "cli:test", "agreement over priority")

    assert diff.counts() == applied.counts()
    assert applied.changes == ["[survivorship] changed: every golden record is recomputed"]
    assert (applied.read_model_rows, applied.records_moved, applied.stayed) == (1, 0, 1)
    assert first_name() == "Ann"
    changes.undo("cli:test", "priority it is")
    assert first_name() == "Annie"


def test_undo_joins_again_what_removing_a_match_link_under_the_review_threshold_split(
    graph: IdentityGraph,
) -> None:
    ingest(
        graph,
        [
            {"id": "q1", "email": "q1@mail.example", "first": "Quinn"},
            {"id": "q2", "email": "q2@mail.example", "first": "Quinn"},
        ],
    )
    ids = graph.store.records.ids([RecordRef("shop", "q1"), RecordRef("shop", "q2")])
    q1, q2 = ids[RecordRef("shop", "q1")], ids[RecordRef("shop", "q2")]
    with graph.store.unit_of_work():
        graph.store.links.put([Link(q1, q2, LinkType.MATCH, MATCHER, 0.96, {"fields": {}})])
        graph.resolver.resolve([q1, q2], matcher_links_only=True)
    assert partition(graph) == {frozenset({"q1", "q2"})}
    new = with_setting(
        with_setting(PACKAGED, "link_threshold = 0.95", "link_threshold = 0.98"),
        "review_threshold = 0.6",
        "review_threshold = 0.97",
    )
    changes = RuleChanges(graph, PACKAGED)

    applied = changes.apply(new, "cli:test", "only near-certain pairs")
    assert (applied.links_removed, applied.split) == (1, 1)
    assert graph.store.links.of([q1, q2]) == []
    changes.undo("cli:test", "too few pairs")

    assert partition(graph) == {frozenset({"q1", "q2"})}
    (link,) = graph.store.links.of([q1, q2])
    assert (link.type, link.weight) == (LinkType.MATCH, 0.96)


def test_an_address_flagged_as_a_familys_splits_its_people_and_relates_them_as_a_household(
    graph: IdentityGraph,
) -> None:
    family = "thegreens@gmail.com"
    ingest(
        graph,
        [
            {"id": "g1", "email": "ann.green@mail.example", "alt": family, "first": "Ann"},
            {"id": "g2", "email": "ann.green@mail.example", "first": "Ann"},
            {"id": "g3", "email": family, "first": "Bob"},
        ],
    )
    assert partition(graph) == {frozenset({"g1", "g2", "g3"})}
    assert graph.households.rebuild().households == 0
    # Written as the steward copied it from a form: the rules file's loader normalises it.
    new = with_setting(PACKAGED, "family_emails = []", 'family_emails = ["The.Greens@GMail.com"]')
    changes = RuleChanges(graph, PACKAGED)

    diff = changes.diff(new)
    applied = changes.apply(new, "cli:test", "the Greens share one address")

    assert diff.counts() == applied.counts()
    assert applied.changes == [
        f"households.family_emails: + {family}",
        "[households] changed: households are built again",
    ]
    assert (applied.split, applied.households) == (1, 1)
    assert partition(graph) == {frozenset({"g1", "g2"}), frozenset({"g3"})}
    ann, bob = profile_of(graph, "g1", "g3")
    assert ann is not None and bob is not None
    found = graph.households.of_profiles([ann, bob])
    assert found[ann] == found[bob]
    assert set(found[ann].members) == {ann, bob}
    assert found[ann].evidence_types == ("shared_email",)
    (flag,) = graph.store.records.flags()
    assert flag.key.value == family and flag.reason is IdentifierFlagReason.BLOCKLISTED
