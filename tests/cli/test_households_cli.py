"""`idgraph households build` and `idgraph households export` on both stores, over the
demo's people loaded through the real pipeline."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from identity.demo.generator import DemoFiles, generate
from identity.graph import IdentityGraph
from identity.mapping import load_mapping
from identity.readers import read_file
from service.cli import app
from tests.cli.stores import cli_store
from tests.store.conftest import backend_params


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoFiles:
    return generate(tmp_path_factory.mktemp("demo"), people=300, seed=7)


@pytest.fixture(params=backend_params())
def graph(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo: DemoFiles
) -> Iterator[IdentityGraph]:
    graph = cli_store(request.param, tmp_path, monkeypatch)
    for source, path in sorted(demo.files.items()):
        mapping = load_mapping(demo.mappings_dir / f"{source}.toml", rules=graph.rules)
        graph.ingest.register_source(mapping)
        assert not graph.ingest.ingest_rows(source, read_file(path, mapping.format)).errors
    yield graph
    graph.close()


def test_build_prints_the_counts_and_export_writes_every_member(
    graph: IdentityGraph, tmp_path: Path
) -> None:
    output = run("households", "build")
    households, members = graph.store.households.count()
    assert households > 0
    assert f"{households:,} households of {members:,} profiles" in output

    out = tmp_path / "households.csv"
    output = run("households", "export", "--out", str(out))
    assert f"wrote {members:,} members of {households:,} households" in output
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    stored = [h for page in graph.store.households.scan() for h in page]
    assert [(r["household_id"], r["profile_id"]) for r in rows] == [
        (h.id, p) for h in stored for p in h.members
    ]
    kinds = {"shared_address_surname", "shared_landline", "shared_email"}
    assert all(r["evidence"] and set(r["evidence"].split(";")) <= kinds for r in rows)
    entries = graph.store.audit.entries(action="households_export", limit=5)
    assert [e.entry.after["members"] for e in entries] == [members]


def test_a_second_build_keeps_every_household_id(graph: IdentityGraph, tmp_path: Path) -> None:
    run("households", "build")
    first = {h.id for page in graph.store.households.scan() for h in page}
    output = run("households", "build")
    assert f"{len(first):,} kept their id" in output
    assert {h.id for page in graph.store.households.scan() for h in page} == first

    out = tmp_path / "households.ndjson"
    run("households", "export", "--out", str(out), "--format", "ndjson")
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert {line["household_id"] for line in lines} == first
    assert all(isinstance(line["evidence"], list) for line in lines)
