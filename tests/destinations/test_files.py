"""The file destination: immutable snapshot and delta files plus a manifest, each renamed
into place whole; after a crash between the manifest and the cursor the folder stays
consistent and no range is written twice; on both stores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from identity.destinations import DestinationSettings
from identity.destinations.files import parquet_available
from identity.errors import ConfigError, InvalidArgument
from identity.graph import IdentityGraph
from identity.segments import change_cursor
from tests.destinations.conftest import NAMED, Crash, FakeTime, delivery_worker, ingest, read_csv


def _check_consistent(folder: Path) -> dict[str, Any]:
    manifest = json.loads((folder / "manifest.json").read_text())
    snapshot = manifest["snapshot"] or {"files": []}
    listed = [f["file"] for f in snapshot["files"]] + [d["file"] for d in manifest["deltas"]]
    assert sorted(p.name for p in folder.iterdir()) == sorted([*listed, "manifest.json"])
    for delta, following in zip(manifest["deltas"], manifest["deltas"][1:], strict=False):
        assert delta["to_seq"] == following["from_seq"]  # no gap, no overlap
    if manifest["deltas"] and manifest["snapshot"]:
        assert manifest["deltas"][0]["from_seq"] == manifest["snapshot"]["seq"]
    if manifest["deltas"]:
        assert manifest["seq"] == manifest["deltas"][-1]["to_seq"]
    assert manifest["cursor"] == change_cursor(manifest["seq"])
    return dict(manifest)


def test_a_folder_gets_a_snapshot_then_deltas_and_a_manifest(
    graph: IdentityGraph, clock: FakeTime, tmp_path: Path
) -> None:
    ingest(graph, *[{"id": f"c{i}", "email": f"c{i}@x.org", "first": f"A{i}"} for i in range(5)])
    graph.segments.define("named", NAMED)
    graph.destinations.add(
        DestinationSettings(
            "lake", "named", folder=str(tmp_path), fields=["email", "first_name"], batch_size=2
        )
    )
    worker = delivery_worker(graph, clock)
    worker.run_until_idle()
    ingest(
        graph, {"id": "c0", "email": "c0@x.org"}, {"id": "n1", "email": "n1@x.org", "first": "N"}
    )
    worker.run_until_idle()
    folder = tmp_path / "named"
    manifest = _check_consistent(folder)
    snapshot = manifest["snapshot"]
    assert snapshot["complete"] and len(snapshot["files"]) == 3
    rows = [r for f in snapshot["files"] for r in read_csv(folder, f["file"])]
    assert list(rows[0]) == ["profile_id", "email", "first_name"]
    assert sorted(r["email"] for r in rows) == [f"c{i}@x.org" for i in range(5)]
    (delta,) = manifest["deltas"]
    changes = read_csv(folder, delta["file"])
    assert list(changes[0]) == [
        "seq",
        "kind",
        "at",
        "profile_id",
        "merged_into",
        "email",
        "first_name",
    ]
    assert [(c["kind"], c["email"]) for c in changes] == [("exited", ""), ("entered", "n1@x.org")]
    assert manifest["columns"]["delta"] == list(changes[0])


def test_a_crash_between_the_manifest_and_the_cursor_writes_nothing_twice(
    graph: IdentityGraph, clock: FakeTime, tmp_path: Path
) -> None:
    graph.segments.define("named", NAMED)
    graph.destinations.add(
        DestinationSettings("lake", "named", folder=str(tmp_path), start="now", batch_size=2)
    )
    ingest(graph, *[{"id": f"c{i}", "email": f"c{i}@x.org", "first": "A"} for i in range(3)])
    folder = tmp_path / "named"

    def crash(*_: object) -> None:
        raise Crash

    with pytest.raises(Crash):
        delivery_worker(graph, clock, after_send=crash).run_once()
    written = sorted(p.name for p in folder.iterdir())
    state = graph.store.destinations.states(["lake"])["lake"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["seq"] > state.cursor_seq  # the file is in, the cursor is not
    clock.advance(61)
    delivery_worker(graph, clock, "w2").run_until_idle()
    manifest = _check_consistent(folder)
    assert set(written) <= {p.name for p in folder.iterdir()}
    rows = [r for d in manifest["deltas"] for r in read_csv(folder, d["file"])]
    feed = graph.store.segments.changes("named", after=0, limit=100)
    assert [int(r["seq"]) for r in rows] == [c.seq for c in feed]  # each change once
    state = graph.store.destinations.states(["lake"])["lake"]
    assert state.cursor_seq == manifest["seq"] == feed[-1].seq


def test_parquet_is_written_with_pyarrow_and_refused_clearly_without_it(
    graph: IdentityGraph, clock: FakeTime, tmp_path: Path
) -> None:
    graph.segments.define("named", NAMED)
    ingest(graph, {"id": "c0", "email": "c0@x.org", "first": "A"})
    if not parquet_available():
        with pytest.raises(ConfigError, match=r"idgraph\[parquet\]") as error:
            graph.destinations.add(
                DestinationSettings("lake", "named", folder=str(tmp_path), format="parquet")
            )
        assert error.value.field == "format"
        assert not graph.destinations.all()
        return
    import pyarrow.parquet as pq

    graph.destinations.add(
        DestinationSettings(
            "lake", "named", folder=str(tmp_path), format="parquet", fields=["email"]
        )
    )
    delivery_worker(graph, clock).run_until_idle()
    manifest = _check_consistent(tmp_path / "named")
    table = pq.read_table(tmp_path / "named" / manifest["snapshot"]["files"][0]["file"])
    assert table.column_names == ["profile_id", "email"]
    assert table.column("email").to_pylist() == ["c0@x.org"]


def test_two_destinations_cannot_share_a_segments_folder(
    graph: IdentityGraph, tmp_path: Path
) -> None:
    graph.segments.define("named", NAMED)
    graph.destinations.add(DestinationSettings("lake", "named", folder=str(tmp_path)))
    with pytest.raises(InvalidArgument, match="destination lake already writes segment named"):
        graph.destinations.add(DestinationSettings("pond", "named", folder=str(tmp_path)))
    with pytest.raises(InvalidArgument, match="must be an absolute path") as error:
        graph.destinations.add(DestinationSettings("pond", "named", folder="relative/dir"))
    assert error.value.argument == "folder"
