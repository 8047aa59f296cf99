"""`idgraph ingest --bulk` on both stores, with real worker processes: the demo's five
sources loaded in bulk (four deferred, the last resolving them all) make the profiles an
incremental load makes, and the read model equals a recomputation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from identity.demo.generator import DemoFiles, generate
from identity.graph import IdentityGraph
from identity.mapping import load_mapping
from identity.model import RecordRef
from identity.readers import read_file
from identity.rules import load_rules
from identity.store.factory import open_store
from service.cli import app
from tests.cli.stores import cli_store
from tests.identity.test_resolution import partition
from tests.store.conftest import backend_params

ORDER = ("crm", "webshop", "pos", "support", "marketing")


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoFiles:
    return generate(tmp_path_factory.mktemp("demo"), people=150, seed=11)


@pytest.fixture(params=backend_params())
def graph(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[IdentityGraph]:
    graph = cli_store(request.param, tmp_path, monkeypatch)
    yield graph
    graph.close()


def incremental(demo: DemoFiles) -> IdentityGraph:
    """The demo loaded row batch by row batch, through the domain, in memory."""
    graph = IdentityGraph(open_store("sqlite:///:memory:"), load_rules())
    for source in ORDER:
        mapping = load_mapping(demo.mappings_dir / f"{source}.toml", rules=graph.rules)
        graph.ingest.register_source(mapping)
        rows = read_file(demo.files[source], mapping.format)
        graph.ingest.batch_size = 100
        assert not graph.ingest.ingest_rows(source, rows).errors
    return graph


def match_rows(graph: IdentityGraph) -> dict[RecordRef, tuple[object, ...]]:
    rows = [row for batch in graph.store.matching.scan_rows() for row in batch]
    refs = graph.store.records.refs([row.record_id for row in rows])
    return {refs[row.record_id]: (row.fields, tuple(sorted(row.keys))) for row in rows}


def test_a_bulk_load_of_five_sources_makes_the_profiles_of_an_incremental_one(
    demo: DemoFiles, graph: IdentityGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small units of work, so that records are written and resolved in several batches
    # and the workers compute one batch's read-model rows while the next one resolves.
    monkeypatch.setattr(type(graph.store), "records_per_unit_of_work", 120)
    run("sources", "add", *map(str, sorted(demo.mappings_dir.glob("*.toml"))))
    for source in ORDER[:-1]:
        out = run(
            "ingest",
            str(demo.files[source]),
            "--source",
            source,
            "--workers",
            "2",
            "--defer-resolution",
        )
        assert "stored without profiles until `idgraph resolve`" in out
        assert graph.bulk.pending()
    run("ingest", str(demo.files["marketing"]), "--source", "marketing", "--bulk")
    assert not graph.bulk.pending()
    assert "nothing to resolve" in run("resolve")
    expected = incremental(demo)
    try:
        assert partition(graph) == partition(expected)
        # The match rows the mapping workers derived are those the writer would derive.
        assert match_rows(graph) == match_rows(expected)
    finally:
        expected.close()
    assert graph.views.check() == []
    run("profiles", "rebuild", "--workers", "2")
    assert "equals a recomputation" in run("profiles", "rebuild", "--check-only")


def test_resolve_finishes_a_deferred_load(demo: DemoFiles, graph: IdentityGraph) -> None:
    run("sources", "add", str(demo.mappings_dir / "crm.toml"))
    run("ingest", str(demo.files["crm"]), "--source", "crm", "--defer-resolution")
    assert {pid for _, pid in graph.store.records.scan_profiles()} == {None}
    out = run("resolve")
    assert "resolved: profiles +" in out
    assert graph.store.audit.entries(action="resolve", limit=1), "resolve was not audited"
    assert None not in {pid for _, pid in graph.store.records.scan_profiles()}
    assert graph.views.check() == []


def test_defer_resolution_is_refused_without_bulk(demo: DemoFiles, graph: IdentityGraph) -> None:
    run("sources", "add", str(demo.mappings_dir / "crm.toml"))
    result = CliRunner().invoke(
        app,
        ["ingest", str(demo.files["crm"]), "--source", "crm", "--no-bulk", "--defer-resolution"],
    )
    assert result.exit_code == 2
    assert "--defer-resolution is for bulk loads" in result.output
