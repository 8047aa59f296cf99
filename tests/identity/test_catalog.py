"""The fields a profile can be asked for: kept by ingest, rebuilt once for an older store."""

from __future__ import annotations

from pathlib import Path

import pytest

from identity.catalog import CATALOG_KEY
from identity.errors import InvalidArgument
from identity.graph import IdentityGraph
from identity.mapping import SourceMapping


@pytest.fixture
def graph(tmp_path: Path) -> IdentityGraph:
    opened = IdentityGraph.open(f"sqlite:///{tmp_path}/s.db")
    doc = {"source": "shop", "key": "id", "identifiers": {"email": "email"},
           "attributes": {"first": {"name": "first_name", "type": "name"}}}  # fmt: skip
    opened.ingest.register_source(SourceMapping.from_document(doc, rules=opened.rules))
    return opened


def test_ingest_notes_mapped_and_unmapped_attribute_names(graph: IdentityGraph) -> None:
    graph.ingest.ingest_rows("shop", [(1, {"id": "1", "email": "a@example.com", "first": "Ann"})])
    graph.ingest.ingest_rows("shop", [(1, {"id": "2", "email": "b@example.com", "shoe": "42"})])
    assert {"first_name", "shoe"} <= graph.catalog.attribute_names()
    graph.catalog.check(["profile_id", "email", "first_name", "shoe", "traits.orders"])
    with pytest.raises(InvalidArgument, match="no profile has a field 'hat'") as refused:
        graph.catalog.check(["profile_id", "hat"])
    assert refused.value.argument == "fields"
    assert graph.catalog.known(["profile_id", "hat", "shoe", "last_name"]) == ["profile_id", "shoe"]


def test_a_store_without_the_catalog_is_read_once_to_build_it(graph: IdentityGraph) -> None:
    graph.ingest.ingest_rows("shop", [(1, {"id": "1", "email": "a@example.com", "shoe": "42"})])
    with graph.store.unit_of_work():
        graph.store.meta.set(CATALOG_KEY, {})  # as a store written before the catalog
    fresh = IdentityGraph(graph.store, graph.rules)
    assert "shoe" in fresh.catalog.attribute_names()
    assert graph.store.meta.get(CATALOG_KEY) == sorted(fresh.catalog.attribute_names())


def test_names_of_a_batch_that_failed_are_noted_by_the_next_batch_holding_them(
    graph: IdentityGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph.ingest.ingest_rows("shop", [(1, {"id": "0", "email": "z@example.com"})])

    def fails(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the batch fails after its names were noted")

    with monkeypatch.context() as patched:
        patched.setattr(graph.resolver, "resolve", fails)
        with pytest.raises(RuntimeError):
            graph.ingest.ingest_rows(
                "shop", [(1, {"id": "1", "email": "a@example.com", "shoe": "42"})]
            )
    assert graph.store.meta.get(CATALOG_KEY) == []  # rolled back with the batch
    graph.ingest.ingest_rows("shop", [(1, {"id": "2", "email": "b@example.com", "shoe": "43"})])
    assert "shoe" in graph.catalog.attribute_names()
    graph.catalog.check(["shoe"])
