"""The demo `make run` loads (3,000 people, seed 7, 30,000 events) through the real
pipeline, loaded at a known time: traits come from event and record times, never from the
load time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources

import pytest

from identity.demo.generator import generate
from identity.graph import IdentityGraph
from identity.ingest import STITCH_SOURCE
from identity.journeys import TRAIT_NAMES
from identity.mapping import load_mapping
from identity.readers import read_file
from identity.rules import load_rules
from identity.segments import Facts
from identity.store.sqlite import SQLiteStore

UNTIL = datetime(2026, 7, 31, 18, 0, tzinfo=UTC)
"""The demo's last event."""
LOADED = datetime(2026, 8, 3, 2, 0, tzinfo=UTC)
"""When the demo is loaded: every record's ingest time, and the services' now."""


@dataclass
class Demo:
    graph: IdentityGraph


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    tmp = tmp_path_factory.mktemp("demo21")
    files = generate(tmp / "demo", people=3000, seed=7, events=30_000, until=UNTIL)
    graph = IdentityGraph(SQLiteStore(tmp / "store.db"), load_rules(), clock=lambda: LOADED)
    for path in sorted(files.mappings_dir.glob("*.toml")):
        graph.ingest.register_source(load_mapping(path, rules=graph.rules))
    for source, path in sorted(files.files.items()):
        graph.ingest.ingest_rows(source, read_file(path, graph.ingest.source(source).format))
    matcher = graph.probabilistic()
    matcher.train()
    matcher.link_all()
    assert files.events_file is not None
    graph.events.ingest_rows(read_file(files.events_file, "jsonl"))
    segments = resources.files("identity.demo") / "segments"
    for entry in sorted(segments.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            graph.segments.define(entry.name.removesuffix(".json"), json.loads(entry.read_text()))
    yield Demo(graph)
    graph.close()


def seen(found: Facts) -> list[datetime]:
    """The times a profile was seen: its events' and its records' own."""
    times = [e.timestamp for e in found.events]
    return times + [r.record.timestamp for r in found.profile.records if r.record.timestamp]


# -- traits from event and record times --------------------------------------------------------


def test_no_trait_is_the_load_time_and_seen_spans_the_event_and_record_times(demo: Demo) -> None:
    graph = demo.graph
    ids = list(graph.store.iter_profile_ids())
    facts = graph.segments.facts(ids)
    with_stitch_records = 0
    for pid, found in facts.items():
        records = found.profile.records
        assert all(r.ingested_at == LOADED for r in records)
        times = seen(found)
        assert (found.traits.first_seen, found.traits.last_seen) == (
            min(times, default=None),
            max(times, default=None),
        ), pid
        assert LOADED not in [found.traits.value(name) for name in TRAIT_NAMES], pid
        with_stitch_records += any(r.record.source == STITCH_SOURCE for r in records)
    # Stitch records carry no time, and about a third of the profiles hold one (1,101).
    assert with_stitch_records > 1000


def test_segment_exports_and_time_windows_use_the_same_times(demo: Demo) -> None:
    graph = demo.graph
    rows = list(graph.segments.export("lapsed-readers", ["profile_id", "traits.last_seen"]))
    assert len(rows) > 1000
    assert LOADED.isoformat() not in {row["traits.last_seen"] for row in rows}

    # Not seen for 60 days: profiles whose only "recent" time was their load were left out.
    cutoff = UNTIL - timedelta(days=60)
    segment = graph.segments.define(
        "unseen-60-days", {"where": {"trait": "last_seen", "lt": cutoff.isoformat()}}
    )
    ids = list(graph.store.iter_profile_ids())
    facts = graph.segments.facts(ids)
    expected = sorted(pid for pid, found in facts.items() if max(seen(found)) < cutoff)
    assert graph.store.segment_members("unseen-60-days", limit=10_000) == expected
    assert segment.size == len(expected) > 0
    graph.segments.delete("unseen-60-days")
