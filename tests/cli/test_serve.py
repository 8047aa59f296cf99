"""`idgraph serve --workers`: how many API processes, refused before anything starts when
the number or the store is wrong (the processes themselves: tests/e2e/test_workers.py)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.config import Settings


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDGRAPH_STORE", f"sqlite:///{tmp_path / 'serve.db'}")
    monkeypatch.setenv("IDGRAPH_TOKENS_FILE", str(tmp_path / "tokens.toml"))
    monkeypatch.delenv("IDGRAPH_WORKERS", raising=False)


@pytest.mark.parametrize("workers", ["0", "-2"])
def test_workers_below_one_are_refused_naming_the_option(workers: str) -> None:
    result = CliRunner().invoke(app, ["serve", "--workers", workers])
    assert result.exit_code == 2
    assert "Invalid value for '--workers'" in result.output
    assert "greater than or equal to 1" in result.output


def test_workers_that_are_not_a_number_are_refused() -> None:
    result = CliRunner().invoke(app, ["serve", "--workers", "many"])
    assert result.exit_code == 2
    assert "Invalid value for '--workers'" in result.output


def test_idgraph_workers_below_one_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IDGRAPH_WORKERS", "0")
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "IDGRAPH_WORKERS" in result.output and "greater than or equal to 1" in result.output


def test_workers_default_to_the_number_of_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 6)
    assert Settings().workers == 6
    monkeypatch.setenv("IDGRAPH_WORKERS", "3")
    assert Settings().workers == 3


def test_several_workers_open_the_store_once_first_and_stop_if_it_cannot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("IDGRAPH_STORE", f"sqlite:///{blocker}/idgraph.db")
    result = CliRunner().invoke(app, ["serve", "--workers", "2"])
    assert result.exit_code == 2
    assert "cannot create the folder for the store" in result.output


def test_several_workers_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDGRAPH_SEGMENT_REFRESH_SECONDS", "60")
    with socket.socket() as taken:  # uvicorn stops at binding, before starting workers
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = CliRunner().invoke(app, ["serve", "--workers", "3", "--port", port])
    assert result.exit_code != 0
    assert f"serving http://127.0.0.1:{port} with 3 worker processes" in result.output
    assert "warning" not in result.output  # the segment refresh is leased to one worker


def test_a_bad_persisted_query_manifest_stops_serve_with_an_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    manifest = tmp_path / "queries.json"
    manifest.write_text('{"0000": "{ __typename }"}')
    monkeypatch.setenv("IDGRAPH_GRAPHQL_PERSISTED_QUERIES", str(manifest))
    result = CliRunner().invoke(app, ["serve", "--workers", "1"])
    assert result.exit_code == 2, result.output
    assert str(manifest) in result.output.replace("\n", "")
