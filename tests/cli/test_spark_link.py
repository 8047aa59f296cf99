"""`idgraph link --engine spark`: Spark local mode on this machine's Java, run in-process
through typer's runner against a real store."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from identity.demo.generator import generate
from identity.graph import IdentityGraph
from identity.mapping import load_mapping
from identity.readers import read_file
from service.cli import app


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def fails(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 2, result.output
    return result.output


@pytest.fixture
def trained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("IDGRAPH_RULES", raising=False)
    files = generate(tmp_path / "demo", people=150, seed=3)
    path = tmp_path / "trained.db"
    graph = IdentityGraph.open(f"sqlite:///{path}")
    for mapping in sorted(files.mappings_dir.glob("*.toml")):
        graph.ingest.register_source(load_mapping(mapping, rules=graph.rules))
    for source, data in sorted(files.files.items()):
        graph.ingest.ingest_rows(source, read_file(data, graph.ingest.source(source).format))
    graph.close()
    run("train", "--store", f"sqlite:///{path}")
    return path


def stored_links(path: Path) -> list[tuple[object, ...]]:
    graph = IdentityGraph.open(f"sqlite:///{path}")
    try:
        refs = [ref for ref, _ in graph.store.records.scan_profiles()]
        ids = sorted(graph.store.records.ids(refs).values())
        return sorted(
            (x.a, x.b, x.type.value, x.matcher, x.weight, repr(x.evidence))
            for x in graph.store.links.of(ids)
        )
    finally:
        graph.close()


def test_link_on_spark_from_exported_match_rows_stores_the_local_engines_links(
    spark: Any, trained: Path, tmp_path: Path
) -> None:
    # The command runs on the session the fixture started (as in a notebook): starting
    # a JVM of its own, with --spark-master, is what tests/identity/test_spark_engine.py's
    # session does through the same function.
    spark_store = tmp_path / "spark.db"
    shutil.copy(trained, spark_store)
    local = run("link", "--store", f"sqlite:///{trained}")
    rows = tmp_path / "rows.parquet"
    exported = run("export-match-rows", "--out", str(rows), "--store", f"sqlite:///{spark_store}")
    assert "match rows" in exported and rows.exists()
    on_spark = run(
        "link",
        "--store",
        f"sqlite:///{spark_store}",
        "--engine",
        "spark",
        "--spark-master",
        "local[2]",
        "--match-rows",
        str(rows),
    )
    # The report's first line (the local engine prints its phases above it).
    summary = next(line for line in local.splitlines() if "candidate pairs:" in line)
    assert summary in on_spark
    assert "connected components of the MATCH links" in on_spark
    assert stored_links(spark_store) == stored_links(trained)


def test_link_on_spark_without_pyspark_or_java_says_what_to_install(
    trained: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = f"sqlite:///{trained}"
    with monkeypatch.context() as patched:
        patched.setitem(sys.modules, "pyspark.sql", None)
        output = fails("link", "--store", store, "--engine", "spark")
    assert "pyspark is not installed" in output
    assert "pip install 'idgraph[spark]'" in output
    from pyspark.sql import SparkSession

    # As in a process where no session runs yet (another test's may).
    monkeypatch.setattr(SparkSession, "getActiveSession", staticmethod(lambda: None))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(trained.parent))
    output = fails("link", "--store", store, "--engine", "spark")
    assert "Spark needs Java" in output
    assert "--match-rows needs --engine spark" in fails(
        "link", "--store", store, "--match-rows", "rows.parquet"
    )
