"""An export read from the profile read model (only the asked columns) gives exactly the
rows of an export recomputed from records and events, for every field an export can
name, on both stores; and a store whose read model is stale still exports correctly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from identity.demo.generator import DemoFiles, generate
from identity.graph import IdentityGraph
from identity.journeys import TRAIT_NAMES
from identity.mapping import load_mapping
from identity.profile_view import STATE_KEY
from identity.readers import read_file
from identity.rules import load_rules
from tests.store.conftest import BACKENDS, backend_params

UNTIL = datetime(2026, 7, 31, 18, 0, tzinfo=UTC)
NOW = datetime(2026, 8, 3, 2, 0, tzinfo=UTC)
EVERYONE = {"where": {"or": [{"identifier": "email"}, {"not": {"identifier": "email"}}]}}


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> DemoFiles:
    return generate(
        tmp_path_factory.mktemp("plan") / "demo", people=150, seed=23, events=2500, until=UNTIL
    )


@pytest.fixture(params=backend_params())
def graph(
    request: pytest.FixtureRequest, tmp_path: Path, demo_files: DemoFiles
) -> Iterator[IdentityGraph]:
    opened = IdentityGraph(BACKENDS[request.param](tmp_path), load_rules(), clock=lambda: NOW)
    for path in sorted(demo_files.mappings_dir.glob("*.toml")):
        opened.ingest.register_source(load_mapping(path, rules=opened.rules))
    for source, path in sorted(demo_files.files.items()):
        opened.ingest.ingest_rows(source, read_file(path, opened.ingest.source(source).format))
    assert demo_files.events_file is not None
    opened.events.ingest_rows(read_file(demo_files.events_file, "jsonl"))
    opened.segments.define("everyone", EVERYONE)
    yield opened
    opened.close()


def _fields(graph: IdentityGraph) -> list[str]:
    return [
        *graph.catalog.fields(),
        "id",
        *(f"traits.{name}" for name in (*TRAIT_NAMES, "event_counts", "nope")),
        *(f"consent.{purpose}" for purpose in graph.rules.events.purposes),
        'odd "quoted" name',
        "no_such_attribute",
    ]


def test_an_export_from_the_read_model_equals_one_recomputed(graph: IdentityGraph) -> None:
    fields = _fields(graph)
    assert graph.views.fresh()
    planned = list(graph.segments.export("everyone", fields, batch_size=37))
    assert len(planned) == graph.segments.get("everyone").size == graph.store.counts().profiles

    # The same store with its read model marked stale: every row recomputed.
    graph.store.meta.set(STATE_KEY, "")
    stale = IdentityGraph(graph.store, graph.rules, clock=lambda: NOW)
    assert not stale.views.fresh()
    recomputed = list(stale.segments.export("everyone", fields, batch_size=37))
    assert [json.dumps(r, default=str) for r in planned] == [
        json.dumps(r, default=str) for r in recomputed
    ]
    # Every kind of value is there: strings, numbers, dates, counts and consent.
    assert any(r["traits.orders"] for r in planned)
    assert any(r["traits.recency_days"] is not None for r in planned)
    assert any(r["consent.email"] for r in planned) and not all(r["consent.email"] for r in planned)


def test_a_member_without_a_row_is_recomputed_not_left_out(graph: IdentityGraph) -> None:
    fields = ["profile_id", "email", "first_name", "traits.orders"]
    before = list(graph.segments.export("everyone", fields))
    some = [row["profile_id"] for row in before[::7]]
    graph.store.views.delete([str(pid) for pid in some])
    assert list(graph.segments.export("everyone", fields)) == before


def test_rebuild_restores_deleted_and_corrupted_rows(graph: IdentityGraph) -> None:
    ids = list(graph.store.profiles.scan_ids())
    rows = graph.store.views.get(ids[:5])
    graph.store.views.delete(ids[5:10])
    first = rows[ids[0]]
    graph.store.views.put([replace(first, orders=first.orders + 3, golden={"x": 1})])
    differences = graph.views.check()
    assert {d.profile_id for d in differences} == {ids[0], *ids[5:10]}
    assert {d.column for d in differences if d.profile_id == ids[0]} >= {"orders", "golden"}
    report = graph.views.rebuild(batch_size=50)
    assert report.profiles == report.written == len(ids)
    assert graph.views.check() == []
