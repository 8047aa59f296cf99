"""The storage contract for links: weights, evidence, replacement, deletion and paging by type.

Every test runs once per backend (conftest.BACKENDS)."""

from __future__ import annotations

import pytest

from identity.model import EncodedLink, Link, LinkType
from identity.store.base import Store
from identity.store.changes import dumps
from tests.store.builders import insert, rec


def test_links_are_stored_with_weight_and_evidence_and_found_from_either_end(
    store: Store,
) -> None:
    a, b, c, d = insert(store, rec("a"), rec("b"), rec("c"), rec("d"))
    store.links.put(
        [
            Link(b, a, LinkType.MATCH, "deterministic", 1.0, {"shared": ["email"]}),
            Link(b, c, LinkType.REVIEW, "fellegi_sunter", 0.73, {"name": 2.5}),
            Link(c, d, LinkType.CANNOT_LINK, "steward", 1.0, {"reason": "twins"}),
        ]
    )
    found = store.links.of([b])
    assert [(x.a, x.b, x.type) for x in found] == [
        (a, b, LinkType.MATCH),
        (b, c, LinkType.REVIEW),
    ]
    assert found[1].weight == pytest.approx(0.73)
    assert found[1].evidence == {"name": 2.5}
    assert [x.type for x in store.links.of([b, d], types=[LinkType.CANNOT_LINK])] == [
        LinkType.CANNOT_LINK
    ]
    # Re-putting the same (a, b, type, matcher) replaces it.
    store.links.put([Link(a, b, LinkType.MATCH, "deterministic", 0.5)])
    assert [(x.weight, x.evidence) for x in store.links.of([a])] == [(0.5, {})]
    assert store.counts().links == 3


def test_a_link_given_twice_in_one_call_is_stored_once_as_last_given(store: Store) -> None:
    a, b = insert(store, rec("a"), rec("b"))
    store.links.put(
        [
            Link(a, b, LinkType.MATCH, "deterministic", 0.4, {"n": 1}),
            Link(b, a, LinkType.MATCH, "deterministic", 0.6, {"n": 2}),
            Link(a, b, LinkType.MATCH, "steward", 1.0),
        ]
    )
    assert [(x.matcher, x.weight, x.evidence) for x in store.links.of([a])] == [
        ("deterministic", 0.6, {"n": 2}),
        ("steward", 1.0, {}),
    ]
    assert store.counts().links == 2


def test_links_can_be_read_without_their_evidence(store: Store) -> None:
    a, b = insert(store, rec("a"), rec("b"))
    store.links.put([Link(a, b, LinkType.MATCH, "fellegi_sunter", 0.97, {"fields": {"x": 1}})])
    assert store.links.of([a], evidence=False) == [
        Link(a, b, LinkType.MATCH, "fellegi_sunter", 0.97, {})
    ]
    assert store.links.of([b])[0].evidence == {"fields": {"x": 1}}


def test_links_of_some_types_are_scanned_in_pages_without_their_evidence(store: Store) -> None:
    ids = insert(store, *(rec(f"r{i}") for i in range(5)))
    a, b, c, d, e = ids
    store.links.put(
        [
            Link(d, c, LinkType.MATCH, "fellegi_sunter", 0.97, {"fields": {"x": 1}}),
            Link(a, b, LinkType.REVIEW, "fellegi_sunter", 0.7, {"y": 2}),
            Link(a, b, LinkType.MATCH, "deterministic"),
            Link(a, e, LinkType.CANNOT_LINK, "steward"),
            Link(b, e, LinkType.MUST_LINK, "steward"),
            Link(a, c, LinkType.MATCH, "deterministic"),
        ]
    )
    types = [LinkType.MATCH, LinkType.REVIEW, LinkType.MUST_LINK]
    pages = list(store.links.scan(types, batch_size=2))
    assert all(pages)
    assert [x for page in pages for x in page] == [
        Link(a, b, LinkType.MATCH, "deterministic"),
        Link(a, b, LinkType.REVIEW, "fellegi_sunter", 0.7),
        Link(a, c, LinkType.MATCH, "deterministic"),
        Link(b, e, LinkType.MUST_LINK, "steward"),
        Link(c, d, LinkType.MATCH, "fellegi_sunter", 0.97),
    ]
    assert [x for page in store.links.scan([LinkType.CANNOT_LINK]) for x in page] == [
        Link(a, e, LinkType.CANNOT_LINK, "steward")
    ]
    # A page larger than every link: one page.
    assert [len(page) for page in store.links.scan(types, batch_size=100)] == [5]


def test_replace_links_touches_only_that_matcher_around_those_records(store: Store) -> None:
    a, b, c, d = insert(store, rec("a"), rec("b"), rec("c"), rec("d"))
    store.links.put(
        [
            Link(a, b, LinkType.MATCH, "deterministic"),
            Link(a, b, LinkType.MATCH, "fellegi_sunter", 0.9),
            Link(c, d, LinkType.MATCH, "deterministic"),
        ]
    )
    store.links.replace([a], "deterministic", [Link(a, c, LinkType.MATCH, "deterministic")])
    assert [(x.a, x.b, x.matcher) for x in store.links.of([a, b, c, d])] == [
        (a, b, "fellegi_sunter"),
        (a, c, "deterministic"),
        (c, d, "deterministic"),
    ]


def test_replace_with_encoded_links_stores_what_replace_stores_for_them_decoded(
    store: Store,
) -> None:
    a, b, c, d = insert(store, rec("a"), rec("b"), rec("c"), rec("d"))
    evidence = {"match_weight": 12.5, "fields": {"name": {"level": "exact", "weight": 3.25}}}
    store.links.put(
        [
            Link(a, b, LinkType.MATCH, "deterministic"),
            Link(a, b, LinkType.MATCH, "fellegi_sunter", 0.9),
            Link(a, d, LinkType.REVIEW, "fellegi_sunter", 0.5),
            Link(c, d, LinkType.MATCH, "fellegi_sunter", 0.8),
        ]
    )
    store.links.replace_encoded(
        [a, b],
        "fellegi_sunter",
        [
            EncodedLink(a, c, LinkType.MATCH, 0.991, dumps(evidence)),
            EncodedLink(d, b, LinkType.REVIEW, 0.7, dumps({"note": "Zoë"})),
        ],
    )
    assert store.links.of([a, b, c, d]) == [
        Link(a, b, LinkType.MATCH, "deterministic"),
        Link(a, c, LinkType.MATCH, "fellegi_sunter", 0.991, evidence),
        Link(b, d, LinkType.REVIEW, "fellegi_sunter", 0.7, {"note": "Zoë"}),
        Link(c, d, LinkType.MATCH, "fellegi_sunter", 0.8),
    ]


def test_delete_links_by_unordered_pair_and_type(store: Store) -> None:
    a, b, c = insert(store, rec("a"), rec("b"), rec("c"))
    store.links.put(
        [
            Link(a, b, LinkType.REVIEW, "fellegi_sunter", 0.7),
            Link(a, b, LinkType.MATCH, "deterministic"),
            Link(b, c, LinkType.REVIEW, "fellegi_sunter", 0.6),
        ]
    )
    assert store.links.delete([(b, a), (a, c)], [LinkType.REVIEW]) == 1
    assert [(x.a, x.b, x.type) for x in store.links.of([a, b, c])] == [
        (a, b, LinkType.MATCH),
        (b, c, LinkType.REVIEW),
    ]


def test_links_of_one_type_page_by_their_ends(store: Store) -> None:
    ids = insert(store, *(rec(f"r{i}") for i in range(6)))
    reviews = [
        Link(ids[i], ids[j], LinkType.REVIEW, "probabilistic", 0.7, {"p": 0.7})
        for i, j in ((0, 1), (0, 2), (3, 4), (1, 5))
    ]
    store.links.put([*reviews, Link(ids[0], ids[3], LinkType.MATCH, "probabilistic", 0.99)])
    first = store.links.of_type(LinkType.REVIEW, limit=3)
    assert [(x.a, x.b) for x in first] == [(ids[0], ids[1]), (ids[0], ids[2]), (ids[1], ids[5])]
    assert first[0].evidence == {"p": 0.7} and first[0].weight == 0.7
    rest = store.links.of_type(LinkType.REVIEW, after=(first[-1].a, first[-1].b))
    assert [(x.a, x.b) for x in rest] == [(ids[3], ids[4])]
