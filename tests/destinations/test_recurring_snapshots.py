"""A file destination with ``snapshot_every_hours`` writes a new full snapshot when that
much of the service's clock has passed since the last, listed in the manifest with the
deltas after it: a loader starting from the newest snapshot and applying the deltas the
manifest lists holds the segment's members, and the deltas over all time are the change
feed without a gap or an overlap, through a crash in the middle of a snapshot; on both
stores."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from identity.destinations import DestinationSettings
from identity.errors import InvalidArgument
from identity.graph import IdentityGraph
from tests.destinations.conftest import NAMED, Crash, FakeTime, delivery_worker, ingest, read_csv
from tests.destinations.test_cli import cli_graph, idgraph  # noqa: F401  (the fixture)
from tests.destinations.test_graphql import ADD, Call, api  # noqa: F401  (the fixture)


def _manifest(folder: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((folder / "manifest.json").read_text())
    return loaded


def _load(folder: Path, skip_older: bool = True) -> set[str]:
    """What a loader following docs/activation.md holds: the newest whole snapshot, then
    the deltas the manifest lists, in order (rows at or before the snapshot's seq skipped,
    or applied: the same result)."""
    manifest = _manifest(folder)
    snapshot = manifest["snapshot"]
    assert snapshot["complete"]
    held = {r["profile_id"] for f in snapshot["files"] for r in read_csv(folder, f["file"])}
    deltas = manifest["deltas"]
    for before, after in itertools.pairwise(deltas):
        assert before["to_seq"] == after["from_seq"]
    if deltas:
        assert deltas[0]["from_seq"] <= snapshot["seq"] < deltas[0]["to_seq"]
    for delta in deltas:
        for row in read_csv(folder, delta["file"]):
            if skip_older and int(row["seq"]) <= snapshot["seq"]:
                continue
            if row["kind"] == "entered":
                held.add(row["profile_id"])
            else:
                held.discard(row["profile_id"])
    return held


def _all_delta_seqs(folder: Path) -> list[int]:
    """Every change written over all time, in file order (files outlive the manifest)."""
    files = sorted(folder.glob("delta-*.csv"), key=lambda p: int(p.stem.split("-")[1]))
    spans = [tuple(int(x) for x in p.stem.split("-")[1:]) for p in files]
    for (_, to_seq), (from_seq, _) in itertools.pairwise(spans):
        assert to_seq == from_seq  # no gap, no overlap
    return [int(r["seq"]) for p in files for r in read_csv(folder, p.name)]


def _round(graph: IdentityGraph, n: int) -> None:
    ingest(
        graph,
        {"id": f"n{n}", "email": f"n{n}@x.org", "first": f"N{n}"},  # enters
        {"id": f"c{n}", "email": f"c{n}@x.org"},  # leaves: no first name
    )


def test_a_new_snapshot_is_written_every_so_often_beside_continuous_deltas(
    graph: IdentityGraph, clock: FakeTime, tmp_path: Path
) -> None:
    ingest(graph, *[{"id": f"c{i}", "email": f"c{i}@x.org", "first": f"A{i}"} for i in range(8)])
    graph.segments.define("named", NAMED)
    graph.destinations.add(
        DestinationSettings(
            "lake", "named", folder=str(tmp_path), batch_size=3, snapshot_every_hours=24
        )
    )
    worker = delivery_worker(graph, clock)
    worker.run_until_idle()
    folder = tmp_path / "named"
    first = _manifest(folder)["snapshot"]
    assert first["complete"]

    def members() -> set[str]:
        return set(graph.store.segments.members("named", limit=10_000))

    taken = [first["seq"]]
    for n in range(6):
        _round(graph, n)
        clock.advance(7 * 3600)  # 7, 14, 21, 28 (a new snapshot), 35, 42 hours
        worker.run_until_idle()
        snapshot = _manifest(folder)["snapshot"]
        if snapshot["seq"] != taken[-1]:
            taken.append(snapshot["seq"])
        assert _load(folder) == members()
        assert _load(folder, skip_older=False) == members()
    assert len(taken) == 2, taken  # one more at 28 hours, not before, not again by 42
    state = graph.store.destinations.states(["lake"])["lake"]
    assert state.snapshot_at == clock.now() - timedelta(hours=14)  # begun at 28 hours
    # The changes pending when the snapshot came due were written as deltas after it:
    # over all time the deltas are the feed after the first snapshot, each change once.
    feed = graph.store.segments.changes("named", after=taken[0], limit=10_000)
    assert _all_delta_seqs(folder) == [c.seq for c in feed]
    manifest = _manifest(folder)
    assert manifest["next_snapshot"] is None
    assert manifest["seq"] == state.cursor_seq == feed[-1].seq
    # Both snapshots' files stay; the manifest names the newest.
    assert {p.name.split("-")[1] for p in folder.glob("snapshot-*")} == {str(s) for s in taken}


def test_a_crash_in_a_recurring_snapshot_leaves_the_folder_consistent(
    graph: IdentityGraph, clock: FakeTime, tmp_path: Path
) -> None:
    ingest(graph, *[{"id": f"c{i}", "email": f"c{i}@x.org", "first": f"A{i}"} for i in range(8)])
    graph.segments.define("named", NAMED)
    graph.destinations.add(
        DestinationSettings(
            "lake", "named", folder=str(tmp_path), batch_size=3, snapshot_every_hours=1
        )
    )
    delivery_worker(graph, clock).run_until_idle()
    folder = tmp_path / "named"
    first = _manifest(folder)["snapshot"]["seq"]
    _round(graph, 0)
    delivery_worker(graph, clock).run_until_idle()
    _round(graph, 1)  # pending when the snapshot comes due
    clock.advance(3600)
    sent: list[str] = []

    def crash_on_second_page(batch: Any, _: object) -> None:
        sent.append(batch.kind)
        if len(sent) == 2:
            raise Crash

    with pytest.raises(Crash):
        delivery_worker(graph, clock, after_send=crash_on_second_page).run_until_idle()
    assert sent == ["snapshot", "snapshot"]
    manifest = _manifest(folder)
    # Mid-snapshot: the loader still sees the first snapshot whole and its deltas.
    assert manifest["snapshot"]["seq"] == first and manifest["next_snapshot"]["complete"] is False
    assert len(manifest["next_snapshot"]["files"]) == 2
    assert _load(folder) != set(graph.store.segments.members("named", limit=100))  # round 1
    clock.advance(61)  # the crashed worker's lease runs out
    delivery_worker(graph, clock, "w2").run_until_idle()
    manifest = _manifest(folder)
    assert manifest["next_snapshot"] is None and manifest["snapshot"]["seq"] > first
    assert [f["file"].rsplit("-", 1)[1] for f in manifest["snapshot"]["files"]] == [
        "00000.csv",
        "00001.csv",
        "00002.csv",
    ]
    assert _load(folder) == set(graph.store.segments.members("named", limit=100))
    feed = graph.store.segments.changes("named", after=first, limit=10_000)
    assert _all_delta_seqs(folder) == [c.seq for c in feed]


def test_recurring_snapshots_are_for_folders_and_go_through_the_cli(
    graph: IdentityGraph, tmp_path: Path
) -> None:
    graph.segments.define("named", NAMED)
    with pytest.raises(InvalidArgument, match="only a folder destination") as error:
        graph.destinations.add(
            DestinationSettings(
                "hook", "named", url="http://127.0.0.1:9/h", snapshot_every_hours=24
            )
        )
    assert error.value.argument == "snapshot_every_hours"
    with pytest.raises(InvalidArgument, match="snapshot_every_hours 0: must be above 0"):
        graph.destinations.add(
            DestinationSettings("lake", "named", folder=str(tmp_path), snapshot_every_hours=0)
        )
    graph.destinations.add(
        DestinationSettings("lake", "named", folder=str(tmp_path), snapshot_every_hours=0.5)
    )
    assert graph.destinations.get("lake").snapshot_every_hours == 0.5


def test_the_command_line_takes_snapshot_every(
    cli_graph: IdentityGraph,  # noqa: F811
    tmp_path: Path,
) -> None:
    folder = str(tmp_path / "lake")
    added = idgraph(
        "destinations",
        "add",
        "lake",
        "--segment",
        "named",
        "--folder",
        folder,
        "--snapshot-every",
        "24",
    )
    assert added.exit_code == 0, added.output
    shown = json.loads(idgraph("destinations", "show", "lake", "--json").stdout)
    assert shown["config"]["snapshot_every_hours"] == 24
    bad = idgraph(
        "destinations",
        "add",
        "hook",
        "--segment",
        "named",
        "--webhook",
        "http://x/h",
        "--snapshot-every",
        "24",
    )
    assert bad.exit_code != 0 and "only a folder destination" in bad.output


def test_graphql_takes_and_shows_snapshot_every_hours(
    graph: IdentityGraph,
    api: Call,  # noqa: F811
    tmp_path: Path,
) -> None:
    graph.segments.define("named", NAMED)
    query = ADD.replace("fields state", "fields snapshotEveryHours state")
    lake = {"name": "lake", "segment": "named", "folder": str(tmp_path), "start": "now"}
    added = api(query, input={**lake, "snapshotEveryHours": 24})
    assert added["data"]["addDestination"]["destination"]["snapshotEveryHours"] == 24
    refused = api(
        query,
        input={**lake, "name": "bad", "folder": str(tmp_path / "b"), "snapshotEveryHours": -2},
    )
    assert refused["data"]["addDestination"]["argument"] == "snapshot_every_hours"
    shown = api('{ destination(name: "lake") { state { lastSnapshotAt status } } }')
    assert shown["data"]["destination"]["state"] == {"lastSnapshotAt": None, "status": "ok"}
