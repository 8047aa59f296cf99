"""The quality page's figures as the domain shapes them: weight bins with their gaps, the
shared bin of large clusters, warnings per field kept in the ingest's audit entry, and
the review queue's size in the audit entries of the actions that change it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from identity.errors import InvalidArgument
from identity.graph import IdentityGraph
from identity.ingest.service import QUEUE_COUNT_ROWS
from identity.model import Link, LinkType, ProfileChanges, RecordRef, SourceRecord
from identity.quality import SizeBin, WeightBin, warnings_by_field
from tests.identity.test_resolution import ingest, open_graph


@pytest.fixture
def graph() -> Iterator[IdentityGraph]:
    g = open_graph()
    yield g
    g.close()


def test_weight_bins_run_from_the_lowest_to_the_highest_weight_with_the_gaps_empty(
    graph: IdentityGraph,
) -> None:
    ingest(graph, "crm", *({"id": k, "email": f"{k}@example.com"} for k in "abcd"))
    ids = graph.store.records.ids([RecordRef("crm", k) for k in "abcd"])
    a, b, c, d = (ids[RecordRef("crm", k)] for k in "abcd")
    graph.store.links.put(
        [
            Link(a, b, LinkType.REVIEW, "fellegi_sunter", 0.3, {"match_weight": -1.5}),
            Link(c, d, LinkType.MATCH, "fellegi_sunter", 0.99, {"match_weight": 6.0}),
        ]
    )
    assert graph.quality.match_weights(2.0) == [
        WeightBin(-2.0, 0.0, 0, 1),
        WeightBin(0.0, 2.0, 0, 0),
        WeightBin(2.0, 4.0, 0, 0),
        WeightBin(4.0, 6.0, 0, 0),
        WeightBin(6.0, 8.0, 1, 0),
    ]
    with pytest.raises(InvalidArgument, match="at most 1000"):
        graph.quality.match_weights(0.005)
    with pytest.raises(InvalidArgument, match=r"at least 0\.001"):
        graph.quality.match_weights(0.0)


def test_clusters_above_fifty_records_share_one_bin_up_to_the_largest(
    graph: IdentityGraph,
) -> None:
    written = graph.store.records.upsert(
        [SourceRecord("crm", f"k{i}") for i in range(63)], graph.clock()
    )
    rids = [w.record_id for w in written]
    groups = {"p_big": rids[:60], "p_one": rids[60:61], "p_two": rids[61:63]}
    changes = ProfileChanges(created=list(groups))
    changes.assignments.update({rid: pid for pid, members in groups.items() for rid in members})
    graph.store.profiles.apply(changes, graph.clock())
    assert graph.quality.cluster_sizes() == [
        SizeBin(1, 1, 1),
        SizeBin(2, 2, 1),
        SizeBin(51, 60, 1),
    ]


def test_an_ingest_entry_keeps_warnings_per_field_and_the_queue_size_never_a_value(
    graph: IdentityGraph,
) -> None:
    ingest(
        graph,
        "crm",
        {"id": "a", "email": "ann@example.com", "phone": "0739 111 222 333 444"},
        {"id": "b", "email": "bo@example.com", "phone": "nope"},
    )
    (entry,) = graph.store.audit.entries(action="ingest")
    after = entry.entry.after
    assert after["warnings_by_field"] == {"phone": 2}
    assert list(after)[-1] == "review_queue" and after["review_queue"] == 0
    assert "111 222" not in str(after) and "nope" not in str(after)
    (counted,) = graph.quality.ingest_warnings()
    assert (counted.source, counted.field, counted.warnings, counted.loads) == (
        "crm",
        "phone",
        2,
        1,
    )


def test_warnings_about_a_whole_row_count_under_row() -> None:
    assert warnings_by_field(["phone", None, "phone", "email"]) == {
        "(row)": 1,
        "email": 1,
        "phone": 2,
    }


def test_history_length_is_bounded(graph: IdentityGraph) -> None:
    for last in (0, 1001):
        with pytest.raises(InvalidArgument, match="between 1 and 1000"):
            graph.quality.review_queue_history(last)


def test_small_loads_count_the_review_queue_at_most_once_a_minute_and_large_ones_always(
    graph: IdentityGraph,
) -> None:
    # Records sent over HTTP arrive a request at a time: counting the whole queue for each
    # would cost every request; a file-sized load always records it.
    ingest(graph, "crm", {"id": "a", "email": "ann@example.com"})
    ingest(graph, "crm", {"id": "b", "email": "bo@example.com"})
    rows = ({"id": f"k{i}", "email": f"k{i}@example.com"} for i in range(QUEUE_COUNT_ROWS))
    ingest(graph, "crm", *rows)
    large, second, first = (e.entry.after for e in graph.store.audit.entries(action="ingest"))
    assert first["review_queue"] == 0
    assert "review_queue" not in second
    assert large["received"] == QUEUE_COUNT_ROWS and large["review_queue"] == 0
