"""The storage contract for the quality page's aggregates: match weight bins, profile sizes,
links per matcher, the review queue's size and history, ingest warnings per field.

Every test runs once per backend (conftest.BACKENDS), on crafted data whose counts are
known."""

from __future__ import annotations

from identity.model import DECISIONS, AuditEntry, JSONValue, Link, LinkType, ProfileChanges
from identity.store.base import Store
from identity.store.ports import (
    FieldWarningCount,
    MatcherLinkCount,
    QueueSizeSample,
    WeightBinCount,
)
from tests.store.builders import T0, T1, T2, insert, make_profiles, rec


def review_queue_size(store: Store) -> int:
    """The review queue's size as the quality page and ``reviewQueue.totalCount`` count it."""
    return store.links.count_of_type(LinkType.REVIEW, without=DECISIONS)


FS = "fellegi_sunter"


def scored(a: int, b: int, kind: LinkType, weight: float, **more: JSONValue) -> Link:
    """A link as the matcher writes it: the weight and probability first in the evidence."""
    evidence: dict[str, JSONValue] = {
        "match_weight": weight,
        "match_probability": 0.5,
        "fields": {"first_name": {"level": "exact", "weight": 3.1}},
        **more,
    }
    return Link(a, b, kind, FS, 0.5, evidence)


def crafted_links(store: Store) -> list[int]:
    """Eight records and their links; the figures each test expects are spelled out there."""
    a, b, c, d, e, f, g, h = insert(store, *(rec(k) for k in "abcdefgh"))
    store.links.put(
        [
            scored(a, b, LinkType.MATCH, 3.5),
            scored(a, c, LinkType.MATCH, -1.0),
            scored(b, c, LinkType.MATCH, 12.25),
            # Undecided review pairs, one with more evidence after its weight.
            scored(c, d, LinkType.REVIEW, 0.5, disagrees_on=["birth_date"]),
            scored(d, e, LinkType.REVIEW, -0.3),
            # Reviewed pairs a steward decided: not in the queue, whatever the matcher says.
            scored(e, f, LinkType.REVIEW, 5.0),
            Link(e, f, LinkType.CANNOT_LINK, "steward", 1.0, {"by": "ann", "reason": "twins"}),
            scored(f, g, LinkType.REVIEW, 7.0),
            Link(f, g, LinkType.MUST_LINK, "steward", 1.0, {"by": "ann", "reason": None}),
            # Links without a match weight are not probabilistic links.
            Link(g, h, LinkType.MATCH, "deterministic", 1.0, {"shared": ["email"]}),
            Link(a, h, LinkType.MUST_LINK, "steward", 1.0, {"by": "bo", "reason": "called"}),
        ]
    )
    return [a, b, c, d, e, f, g, h]


def test_match_weights_are_counted_by_bin_with_decided_reviews_left_out(store: Store) -> None:
    crafted_links(store)
    assert store.quality.match_weight_bins(2.0) == [
        WeightBinCount(bin=-1, links=1, reviews=1),  # -1.0 and -0.3
        WeightBinCount(bin=0, links=0, reviews=1),  # 0.5
        WeightBinCount(bin=1, links=1, reviews=0),  # 3.5
        WeightBinCount(bin=6, links=1, reviews=0),  # 12.25
    ]
    # Bins are floor(weight / width): -1.0 / 0.5 is exactly -2, -0.3 / 0.5 is in -1.
    assert store.quality.match_weight_bins(0.5) == [
        WeightBinCount(-2, 1, 0),
        WeightBinCount(-1, 0, 1),
        WeightBinCount(1, 0, 1),
        WeightBinCount(7, 1, 0),
        WeightBinCount(24, 1, 0),
    ]


def test_an_empty_store_has_no_weights_no_sizes_no_links_and_an_empty_queue(
    store: Store,
) -> None:
    assert store.quality.match_weight_bins(2.0) == []
    assert store.quality.profile_sizes() == {}
    assert store.quality.links_by_matcher() == []
    assert review_queue_size(store) == 0
    assert store.quality.review_queue_samples(10) == []
    assert store.quality.ingest_warnings() == []


def test_the_review_queue_size_counts_the_pairs_the_review_queue_pages_through(
    store: Store,
) -> None:
    crafted_links(store)
    assert review_queue_size(store) == 2
    decided = {
        (x.a, x.b)
        for x in store.links.of(
            [r for x in store.links.of_type(LinkType.REVIEW) for r in (x.a, x.b)],
            types=[LinkType.MUST_LINK, LinkType.CANNOT_LINK],
        )
    }
    undecided = [x for x in store.links.of_type(LinkType.REVIEW) if (x.a, x.b) not in decided]
    assert len(undecided) == review_queue_size(store)


def test_links_are_counted_per_matcher_and_type_most_first(store: Store) -> None:
    crafted_links(store)
    assert store.quality.links_by_matcher() == [
        MatcherLinkCount(FS, LinkType.REVIEW, 4),
        MatcherLinkCount(FS, LinkType.MATCH, 3),
        MatcherLinkCount("steward", LinkType.MUST_LINK, 2),
        MatcherLinkCount("deterministic", LinkType.MATCH, 1),
        MatcherLinkCount("steward", LinkType.CANNOT_LINK, 1),
    ]


def test_profile_sizes_count_live_profiles_by_their_records(store: Store) -> None:
    a, b, c, d, e, f, g, h = insert(store, *(rec(k) for k in "abcdefgh"))
    make_profiles(store, P1=[a, b, c], P2=[d], P3=[e, f, g], P4=[h])
    assert store.quality.profile_sizes() == {1: 2, 3: 2}
    # A merge retires a profile: its records count in the survivor's size.
    merge = ProfileChanges(merged={"P4": "P2"})
    merge.assignments.update({h: "P2"})
    store.profiles.apply(merge, T1)
    assert store.quality.profile_sizes() == {2: 1, 3: 2}
    assert sum(store.quality.profile_sizes().values()) == store.counts().profiles


def test_the_queue_history_is_the_sizes_audit_entries_recorded_newest_last(
    store: Store,
) -> None:
    ids = store.audit.append(
        [
            AuditEntry("loader", "ingest", "shop", after={"received": 3, "review_queue": 4}),
            AuditEntry("steward", "segment_change", "vip", after={"members": 2}),
            AuditEntry(
                "ann",
                "accept_match",
                "shop/a|shop/b",
                reason="same birth date",
                after={
                    "profiles": {"p1": [["shop", "a"]]},
                    "note": 'a value naming "review_queue": 99, as text',
                    "review_queue": 3,
                },
            ),
        ],
        T0,
    )
    (last,) = store.audit.append(
        [AuditEntry("cli", "link", "local", after={"review_queue": 0})], T1
    )
    assert store.quality.review_queue_samples(10) == [
        QueueSizeSample(ids[0], T0, 4),
        QueueSizeSample(ids[2], T0, 3),
        QueueSizeSample(last, T1, 0),
    ]
    assert store.quality.review_queue_samples(2) == [
        QueueSizeSample(ids[2], T0, 3),
        QueueSizeSample(last, T1, 0),
    ]


def test_ingest_warnings_are_summed_per_source_and_field_over_loads(store: Store) -> None:
    def load(source: str, by_field: dict[str, JSONValue]) -> AuditEntry:
        after: dict[str, JSONValue] = {"warnings": sum(int(str(n)) for n in by_field.values())}
        after["warnings_by_field"] = by_field
        after["review_queue"] = 0
        return AuditEntry("loader", "ingest", source, after=after)

    store.audit.append(
        [
            load("shop", {"mobile": 2, "(row)": 1}),
            load("shop", {"mobile": 1}),
            load("crm", {"email": 5}),
            load("crm", {}),
            # Another action's entry is not an ingest, whatever it holds.
            AuditEntry("x", "ingest_events", "web", after={"warnings_by_field": {"ts": 9}}),
        ],
        T0,
    )
    store.audit.append([load("shop", {'Mobile, "home"': 1})], T2)
    assert store.quality.ingest_warnings() == [
        FieldWarningCount("crm", "email", 5, 1),
        FieldWarningCount("shop", "mobile", 3, 2),
        FieldWarningCount("shop", "(row)", 1, 1),
        FieldWarningCount("shop", 'Mobile, "home"', 1, 1),
    ]


def test_a_weight_later_in_the_evidence_counts_and_one_that_is_not_finite_does_not(
    store: Store,
) -> None:
    a, b, c, d = insert(store, *(rec(k) for k in "abcd"))
    store.links.put(
        [
            Link(
                a,
                b,
                LinkType.MATCH,
                FS,
                0.9,
                {"fields": {"x": {"weight": 1.0}}, "match_weight": 5.0},
            ),
            Link(b, c, LinkType.MATCH, FS, 1.0, {"match_weight": float("inf")}),
            Link(c, d, LinkType.REVIEW, FS, 0.5, {"match_weight": 1e-05}),
            Link(a, d, LinkType.REVIEW, FS, 0.5, {"match_weight": "high"}),
        ]
    )
    assert store.quality.match_weight_bins(2.0) == [
        WeightBinCount(bin=0, links=0, reviews=1),
        WeightBinCount(bin=2, links=1, reviews=0),
    ]
    # The queue counts every undecided review pair, whatever its evidence.
    assert review_queue_size(store) == 2
