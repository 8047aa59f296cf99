"""The storage contract for the review queue by probability: links of one type paged by
weight (highest first, ties by their ends) without the pairs a decision joins, and the
count of those pairs.

Every test runs once per backend (conftest.BACKENDS)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from identity.model import Link, LinkType
from identity.store.base import Store
from tests.store.builders import insert, rec

DECISIONS = (LinkType.MUST_LINK, LinkType.CANNOT_LINK)


def pages_by_weight(
    store: Store, limit: int, without: tuple[LinkType, ...] = DECISIONS
) -> list[list[Link]]:
    """Every page of the review links by weight, each read after the last of the one
    before, as the review queue reads them."""
    pages: list[list[Link]] = []
    after: tuple[float, int, int] | None = None
    while True:
        page = store.links.of_type_by_weight(
            LinkType.REVIEW, after=after, limit=limit, without=without
        )
        if not page:
            return pages
        pages.append(page)
        after = (page[-1].weight, page[-1].a, page[-1].b)


def test_links_of_one_type_page_by_weight_highest_first_ties_by_their_ends(
    store: Store,
) -> None:
    r = insert(store, *(rec(f"r{i}") for i in range(7)))
    store.links.put(
        [
            Link(r[4], r[5], LinkType.REVIEW, "probabilistic", 0.55, {"p": 0.55}),
            Link(r[0], r[1], LinkType.REVIEW, "probabilistic", 0.7),
            Link(r[2], r[3], LinkType.REVIEW, "probabilistic", 0.9),
            Link(r[1], r[2], LinkType.REVIEW, "probabilistic", 0.7),
            Link(r[0], r[6], LinkType.REVIEW, "probabilistic", 0.7),
            # Not the type: never in the queue, however heavy.
            Link(r[3], r[4], LinkType.MATCH, "probabilistic", 0.99),
        ]
    )
    pages = pages_by_weight(store, limit=2)
    assert [[(x.a, x.b, x.weight) for x in page] for page in pages] == [
        [(r[2], r[3], 0.9), (r[0], r[1], 0.7)],
        [(r[0], r[6], 0.7), (r[1], r[2], 0.7)],
        [(r[4], r[5], 0.55)],
    ]
    assert pages[-1][0] == Link(r[4], r[5], LinkType.REVIEW, "probabilistic", 0.55, {"p": 0.55})


def test_pairs_a_link_of_the_excluded_types_joins_are_left_out_of_pages_and_counts(
    store: Store,
) -> None:
    r = insert(store, *(rec(f"r{i}") for i in range(6)))
    store.links.put(
        [
            Link(r[0], r[1], LinkType.REVIEW, "probabilistic", 0.9),
            Link(r[2], r[3], LinkType.REVIEW, "probabilistic", 0.8),
            Link(r[4], r[5], LinkType.REVIEW, "probabilistic", 0.7),
            Link(r[1], r[0], LinkType.MUST_LINK, "steward"),
            Link(r[2], r[3], LinkType.CANNOT_LINK, "steward"),
            # A decision between other records leaves the pairs alone.
            Link(r[1], r[4], LinkType.CANNOT_LINK, "steward"),
        ]
    )
    kept = store.links.of_type_by_weight(LinkType.REVIEW, limit=10, without=DECISIONS)
    assert [(x.a, x.b) for x in kept] == [(r[4], r[5])]
    assert store.links.count_of_type(LinkType.REVIEW, without=DECISIONS) == 1
    everything = store.links.of_type_by_weight(LinkType.REVIEW, limit=10)
    assert [(x.a, x.b) for x in everything] == [(r[0], r[1]), (r[2], r[3]), (r[4], r[5])]
    assert store.links.count_of_type(LinkType.REVIEW) == 3
    # A page fills up past the pairs it leaves out: the caller need not ask again.
    assert len(store.links.of_type_by_weight(LinkType.REVIEW, limit=1, without=DECISIONS)) == 1


def test_a_page_after_a_link_that_is_gone_starts_where_that_link_was(store: Store) -> None:
    r = insert(store, *(rec(f"r{i}") for i in range(6)))
    store.links.put(
        [
            Link(r[0], r[1], LinkType.REVIEW, "probabilistic", 0.9),
            Link(r[2], r[3], LinkType.REVIEW, "probabilistic", 0.8),
            Link(r[4], r[5], LinkType.REVIEW, "probabilistic", 0.8),
        ]
    )
    (first,) = store.links.of_type_by_weight(LinkType.REVIEW, limit=1, without=DECISIONS)
    # The steward decides the pair just read: it goes, and the next page is unchanged.
    store.links.delete([(first.a, first.b)], [LinkType.REVIEW])
    store.links.put([Link(first.a, first.b, LinkType.MUST_LINK, "steward")])
    rest = store.links.of_type_by_weight(
        LinkType.REVIEW, after=(first.weight, first.a, first.b), limit=10, without=DECISIONS
    )
    assert [(x.a, x.b) for x in rest] == [(r[2], r[3]), (r[4], r[5])]
    after = (0.8, r[2], r[3])
    assert [
        (x.a, x.b)
        for x in store.links.of_type_by_weight(LinkType.REVIEW, after=after, without=DECISIONS)
    ] == [(r[4], r[5])]


def test_the_count_of_a_type_counts_each_pair_once_and_is_zero_on_an_empty_store(
    store: Store,
) -> None:
    assert store.links.count_of_type(LinkType.REVIEW, without=DECISIONS) == 0
    assert store.links.of_type_by_weight(LinkType.REVIEW, without=DECISIONS) == []
    a, b, c = insert(store, rec("a"), rec("b"), rec("c"))
    store.links.put(
        [
            Link(a, b, LinkType.REVIEW, "probabilistic", 0.7),
            Link(a, b, LinkType.REVIEW, "duplicates", 0.6),
            Link(b, c, LinkType.REVIEW, "probabilistic", 0.6),
            Link(a, c, LinkType.MATCH, "probabilistic", 0.99),
        ]
    )
    assert store.links.count_of_type(LinkType.REVIEW, without=DECISIONS) == 2
    assert store.links.count_of_type(LinkType.MATCH, without=DECISIONS) == 1


# Few weights, so that ties are common; pairs of 7 records (ids by position).
_PAIRS = [(i, j) for i in range(7) for j in range(i + 1, 7)]
_QUEUE = st.lists(
    st.tuples(
        st.sampled_from(_PAIRS),
        st.sampled_from([0.5, 0.625, 0.75, 0.875]),
        st.sampled_from([None, LinkType.MUST_LINK, LinkType.CANNOT_LINK]),
    ),
    max_size=14,
    unique_by=lambda x: x[0],
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(queue=_QUEUE, limit=st.integers(min_value=1, max_value=5))
def test_pages_by_weight_hold_every_undecided_pair_once_in_order_and_the_count_agrees(
    store: Store,
    queue: list[tuple[tuple[int, int], float, LinkType | None]],
    limit: int,
) -> None:
    # The same records every example (an upsert of an unchanged record keeps its id).
    r = insert(store, *(rec(f"r{i}") for i in range(7)))
    links = [Link(r[i], r[j], LinkType.REVIEW, "probabilistic", w) for (i, j), w, _ in queue]
    decisions = [Link(r[i], r[j], kind, "steward") for (i, j), _, kind in queue if kind is not None]
    store.links.put(links + decisions)
    try:
        undecided = sorted(
            (x for x, (_, _, kind) in zip(links, queue, strict=True) if kind is None),
            key=lambda x: (-x.weight, x.a, x.b),
        )
        pages = pages_by_weight(store, limit)
        assert all(len(page) == limit for page in pages[:-1])
        assert [x for page in pages for x in page] == undecided
        assert store.links.count_of_type(LinkType.REVIEW, without=DECISIONS) == len(undecided)
    finally:
        pairs = [(x.a, x.b) for x in links]
        store.links.delete(pairs, [LinkType.REVIEW, *DECISIONS])
