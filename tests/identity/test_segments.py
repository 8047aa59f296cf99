"""Segment evaluation reads only what its conditions need: the members must be exactly
those a full read of every profile gives, for every kind of condition."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from identity.demo.generator import generate
from identity.graph import IdentityGraph
from identity.mapping import load_mapping
from identity.readers import read_file
from identity.rules import load_rules
from identity.segment_definitions import parse_definition
from identity.store.sqlite import SQLiteStore

UNTIL = datetime(2025, 6, 30, 18, 0, tzinfo=UTC)
DEFINITIONS = {
    "events": {"where": {"event": "purchase", "within_days": 90, "count": {"gte": 2}}},
    "sum": {"where": {"event": "purchase", "sum": {"property": "order_value", "gt": 60}}},
    "none": {"where": {"not": {"event": "email_open", "within_days": 60}}},
    "attribute": {"where": {"attribute": "first_name", "exists": True}},
    "identifier": {"where": {"identifier": "loyalty_id"}},
    "consent": {"requires_consent": "email", "where": {"event": "*", "within_days": 365}},
    "seen": {"where": {"trait": "first_seen", "lt": "2020-01-01T00:00:00+00:00"}},
    "monetary": {"where": {"trait": "monetary", "gte": 50}},
    "mixed": {
        "where": {
            "or": [
                {"and": [{"consent": "sms"}, {"identifier": "phone"}]},
                {"attribute": "city", "exists": False},
            ]
        }
    },
}


def test_members_equal_a_full_read_of_every_profile(tmp_path: Path) -> None:
    files = generate(tmp_path / "demo", people=300, seed=5, events=4000)
    graph = IdentityGraph(SQLiteStore(tmp_path / "s.db"), load_rules(), clock=lambda: UNTIL)
    for path in sorted(files.mappings_dir.glob("*.toml")):
        graph.ingest.register_source(load_mapping(path, rules=graph.rules))
    for source, path in sorted(files.files.items()):
        graph.ingest.ingest_rows(source, read_file(path, graph.ingest.source(source).format))
    assert files.events_file is not None
    graph.events.ingest_rows(read_file(files.events_file, "jsonl"))
    ids = list(graph.store.profiles.scan_ids())
    full = graph.segments.facts(ids)
    for name, document in DEFINITIONS.items():
        segment = graph.segments.define(name, document)
        definition = parse_definition(name, document, graph.rules)
        expected = sorted(pid for pid in ids if definition.is_member(full[pid]))
        assert graph.store.segments.members(name, limit=10_000) == expected, name
        assert 0 < segment.size < len(ids), (name, segment.size)
    graph.close()
