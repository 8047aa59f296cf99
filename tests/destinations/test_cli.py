"""The `idgraph destinations` commands, as a user's shell runs them, on both stores: add a
webhook and a folder, deliver, watch, pause, resume, replay, remove; errors name the
option and the value."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from identity.graph import IdentityGraph
from identity.mapping import SourceMapping
from service.cli import app
from tests.cli.stores import cli_store
from tests.destinations.conftest import CRM, ingest
from tests.destinations.receiver import Consumer, Receiver
from tests.store.conftest import backend_params


def idgraph(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), terminal_width=200)


@pytest.fixture(params=backend_params())
def cli_graph(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[IdentityGraph]:
    graph = cli_store(request.param, tmp_path, monkeypatch)
    graph.ingest.register_source(SourceMapping.from_document(CRM, rules=graph.rules))
    graph.segments.define("named", {"where": {"attribute": "first_name", "exists": True}})
    yield graph
    graph.close()


def test_a_webhook_round_trip_on_the_command_line(cli_graph: IdentityGraph) -> None:
    secret: list[str] = []
    receiver = Receiver(lambda: secret[0]).start()
    try:
        ingest(
            cli_graph, *[{"id": f"c{i}", "email": f"c{i}@x.org", "first": "A"} for i in range(3)]
        )
        added = idgraph(
            "destinations",
            "add",
            "hook",
            "--segment",
            "named",
            "--webhook",
            receiver.url,
            "--fields",
            "email,first_name",
            "--batch-size",
            "2",
        )
        assert added.exit_code == 0, added.output
        found = re.search(r"^(whsec_\S+)$", added.stdout, re.M)
        assert found, added.stdout
        secret.append(found.group(1))
        assert secret[0] not in idgraph("destinations", "show", "hook", "--json").stdout

        receiver.will("500")
        run = idgraph("destinations", "run", "--once")
        assert run.exit_code == 0, run.output
        assert "a retry is due" in run.output
        shown = json.loads(idgraph("destinations", "show", "hook", "--json").stdout)
        assert shown["attempts"] == 1 and shown["last_error"] == "HTTP 500 Internal Server Error"
        assert shown["state"] == "retrying (1 failed)"

        paused = idgraph("destinations", "pause", "hook")
        assert paused.exit_code == 0 and "paused" in idgraph("destinations", "list").stdout
        assert idgraph("destinations", "resume", "hook").exit_code == 0

        # The retry is due in a second or two at most: run until it has gone.
        for _ in range(50):
            shown = json.loads(idgraph("destinations", "show", "hook", "--json").stdout)
            if shown["snapshot"] is None:
                break
            time.sleep(0.1)
            idgraph("destinations", "run", "--once")
        consumer = Consumer().take(receiver.processed())
        assert set(consumer.snapshot) == set(cli_graph.store.segments.members("named"))
        assert {r["email"] for r in consumer.snapshot.values()} == {f"c{i}@x.org" for i in range(3)}

        removed = idgraph("destinations", "remove", "hook")
        assert removed.exit_code == 0 and not cli_graph.destinations.all()
    finally:
        receiver.stop()


def test_a_folder_destination_and_replay_on_the_command_line(
    cli_graph: IdentityGraph, tmp_path: Path
) -> None:
    folder = tmp_path / "out"
    added = idgraph(
        "destinations",
        "add",
        "lake",
        "--segment",
        "named",
        "--folder",
        str(folder),
        "--start",
        "now",
    )
    assert added.exit_code == 0, added.output
    assert "whsec_" not in added.output
    ingest(cli_graph, {"id": "c1", "email": "c1@x.org", "first": "A"})
    run = idgraph("destinations", "run", "--once")
    assert run.exit_code == 0 and "lake: 1 rows delivered" in run.output
    manifest = json.loads((folder / "named" / "manifest.json").read_text())
    assert [d["rows"] for d in manifest["deltas"]] == [1]

    nothing = idgraph("destinations", "replay", "lake", "--all")
    assert nothing.exit_code == 0 and "0 replayed, 0 failed" in nothing.output
    unknown = idgraph("destinations", "replay", "lake", "--id", "99")
    assert unknown.exit_code == 2 and "id 99" in unknown.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--webhook", "ftp://x"], "url 'ftp://x': must be an http:// or https:// URL"),
        (["--folder", "/tmp/x", "--format", "xlsx"], "format 'xlsx': one of csv, parquet"),
        (["--folder", "/tmp/x", "--fields", "seq"], "fields 'seq'"),
        (["--folder", "/tmp/x", "--fields", "shoe_size"], "no profile has a field 'shoe_size'"),
        (["--folder", "/tmp/x", "--batch-size", "0"], "batch_size 0: must be between 1"),
        (["--folder", "/tmp/x", "--requires-consent", "fax"], "requires_consent 'fax'"),
        (["--folder", "/tmp/x", "--start", "never"], "start 'never': one of snapshot, now"),
        (["--webhook", "http://x", "--folder", "/tmp/x"], "--webhook / --folder"),
    ],
)
def test_bad_options_are_refused_naming_the_option_and_the_value(
    cli_graph: IdentityGraph, args: list[str], message: str
) -> None:
    result = idgraph("destinations", "add", "d", "--segment", "named", *args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split()), result.output
    assert not cli_graph.destinations.all()


def test_an_unknown_segment_or_destination_is_named(cli_graph: IdentityGraph) -> None:
    result = idgraph("destinations", "add", "d", "--segment", "nope", "--folder", "/tmp/x")
    assert result.exit_code == 2 and "nope" in result.output
    shown = idgraph("destinations", "show", "ghost")
    assert shown.exit_code == 2 and "no destination named 'ghost'" in shown.output
