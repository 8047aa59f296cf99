"""Real-time probabilistic linking: records arriving one at a time are scored against the
records sharing a blocking key, and end with the same links and profiles as a batch run."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from identity.demo.generator import DemoFiles, generate
from identity.errors import ConfigError
from identity.graph import IdentityGraph
from identity.mapping import load_mapping
from identity.matching.matcher import MATCHER, MODEL_KEY, STAMP_KEY
from identity.model import JSONValue, Link, LinkType, RecordRef
from identity.readers import read_file

Rows = list[tuple[str, int, dict[str, JSONValue]]]


def open_graph(path: Path, files: DemoFiles) -> IdentityGraph:
    graph = IdentityGraph.open(f"sqlite:///{path}")
    for mapping_path in sorted(files.mappings_dir.glob("*.toml")):
        graph.ingest.register_source(load_mapping(mapping_path, rules=graph.rules))
    return graph


def rows_of(graph: IdentityGraph, files: DemoFiles) -> Rows:
    rows: Rows = []
    for source, path in sorted(files.files.items()):
        mapping = graph.ingest.source(source)
        for number, row in read_file(path, mapping.format):
            assert isinstance(row, dict)
            rows.append((source, number, row))
    return rows


def ingest_in_batches(graph: IdentityGraph, rows: Rows) -> None:
    """Each source's rows in one ingest call, sources in name order."""
    for source in sorted({s for s, _, _ in rows}):
        graph.ingest.ingest_rows(source, [(n, r) for s, n, r in rows if s == source])


def links_by_ref(graph: IdentityGraph) -> dict[tuple[RecordRef, RecordRef], Link]:
    refs = [ref for ref, _ in graph.store.records.scan_profiles()]
    ids = graph.store.records.ids(refs)
    ref_of = {rid: ref for ref, rid in ids.items()}
    found = {}
    for link in graph.store.links.of(ids.values()):
        if link.matcher == MATCHER:
            a, b = sorted((ref_of[link.a], ref_of[link.b]))
            found[(a, b)] = link
    return found


def partition(graph: IdentityGraph) -> set[frozenset[RecordRef]]:
    members: dict[str | None, set[RecordRef]] = {}
    for ref, profile in graph.store.records.scan_profiles():
        members.setdefault(profile, set()).add(ref)
    return {frozenset(refs) for refs in members.values()}


@pytest.fixture(scope="module")
def batch_and_realtime(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[IdentityGraph, IdentityGraph]:
    tmp = tmp_path_factory.mktemp("realtime")
    files = generate(tmp / "demo", people=200, seed=5)

    batch = open_graph(tmp / "batch.db", files)
    rows = rows_of(batch, files)
    ingest_in_batches(batch, rows)
    matcher = batch.probabilistic()
    matcher.train()
    matcher.link_all()

    # The same rows, one request each, in another order, scored by the same model.
    realtime = open_graph(tmp / "realtime.db", files)
    for key in (MODEL_KEY, STAMP_KEY):
        realtime.store.meta.set(key, batch.store.meta.get(key))
    random.Random(3).shuffle(rows)
    for source, number, row in rows:
        report = realtime.ingest.ingest_rows(source, [(number, row)])
        assert report.accepted == 1 and report.probabilistic_skipped is None
    return batch, realtime


def test_records_arriving_one_at_a_time_get_the_links_of_a_batch_run(
    batch_and_realtime: tuple[IdentityGraph, IdentityGraph],
) -> None:
    batch, realtime = batch_and_realtime
    expected, found = links_by_ref(batch), links_by_ref(realtime)
    assert {p for p, link in expected.items() if link.type is LinkType.MATCH}
    assert {p for p, link in expected.items() if link.type is LinkType.REVIEW}
    assert found.keys() == expected.keys()
    for pair, link in expected.items():
        assert found[pair].type is link.type, pair
        assert found[pair].weight == pytest.approx(link.weight, abs=1e-9), pair
        assert found[pair].evidence == link.evidence, pair


def test_records_arriving_one_at_a_time_form_the_profiles_of_a_batch_run(
    batch_and_realtime: tuple[IdentityGraph, IdentityGraph],
) -> None:
    batch, realtime = batch_and_realtime
    assert partition(realtime) == partition(batch)


def test_without_a_model_arriving_records_are_indexed_and_not_scored(tmp_path: Path) -> None:
    files = generate(tmp_path / "demo", people=20, seed=2)
    graph = open_graph(tmp_path / "store.db", files)
    source, path = sorted(files.files.items())[0]
    report = graph.ingest.ingest_rows(source, read_file(path, graph.ingest.source(source).format))
    assert report.accepted > 0
    assert report.probabilistic_skipped is not None
    assert "idgraph train" in report.probabilistic_skipped
    assert graph.matcher is not None and graph.matcher.index.is_current()
    indexed = [row for batch in graph.store.matching.scan_rows() for row in batch]
    assert len(indexed) == report.accepted


def test_a_model_trained_for_other_settings_is_not_used_until_retrained(tmp_path: Path) -> None:
    files = generate(tmp_path / "demo", people=30, seed=4)
    graph = open_graph(tmp_path / "store.db", files)
    rows = rows_of(graph, files)
    ingest_in_batches(graph, rows)
    graph.probabilistic().train()
    graph.close()

    changed = tmp_path / "rules.toml"
    packaged = Path(__file__).parents[2] / "identity" / "config" / "rules.toml"
    changed.write_text(packaged.read_text().replace('["email"],\n', ""), encoding="utf-8")
    reopened = IdentityGraph.open(f"sqlite:///{tmp_path / 'store.db'}", changed)
    matcher = reopened.probabilistic()
    assert not matcher.index.is_current()
    with pytest.raises(ConfigError, match="other \\[matching\\] settings"):
        matcher.link_all()
    source, number, row = rows[0]
    report = reopened.ingest.ingest_rows(source, [(number, {**row, "first_name": "Zed"})])
    assert report.probabilistic_skipped is not None
    matcher.train()  # rebuilds the index for the new settings, then trains
    assert matcher.index.is_current()
    assert matcher.link_all().records == len(rows)


def test_a_stewards_cannot_link_holds_against_the_match_model(tmp_path: Path) -> None:
    files = generate(tmp_path / "demo", people=80, seed=6)
    graph = open_graph(tmp_path / "store.db", files)
    rows = rows_of(graph, files)
    ingest_in_batches(graph, rows)
    matcher = graph.probabilistic()
    matcher.train()
    matcher.link_all()
    store = graph.store
    ids = store.records.ids([ref for ref, _ in store.records.scan_profiles()])
    # A pair joined by the model alone: no identifier in common.
    held = store.records.identifiers_of(ids.values())
    pair = next(
        (link.a, link.b)
        for link in store.links.of(ids.values(), types=[LinkType.MATCH])
        if link.matcher == MATCHER
        and not {i.key for i in held[link.a]} & {i.key for i in held[link.b]}
    )
    assert len(set(store.profiles.ids_of(pair).values())) == 1

    with store.unit_of_work():
        store.links.put([Link(*pair, LinkType.CANNOT_LINK, "steward")])
        graph.resolver.resolve(pair)
    assert len(set(store.profiles.ids_of(pair).values())) == 2
    matcher.link_all()  # the model still scores the pair a match ...
    assert any(
        link.matcher == MATCHER
        for link in store.links.of(pair, types=[LinkType.MATCH])
        if (link.a, link.b) == pair
    )
    assert len(set(store.profiles.ids_of(pair).values())) == 2  # ... and loses


def test_with_a_sorted_neighbourhood_rule_real_time_finds_a_subset_and_link_completes_it(
    tmp_path: Path,
) -> None:
    files = generate(tmp_path / "demo", people=150, seed=8)
    rules = tmp_path / "rules.toml"
    packaged = Path(__file__).parents[2] / "identity" / "config" / "rules.toml"
    neighbourhood = (
        '    { sorted_neighbourhood = "last_name", window = 5, '
        'block_on = ["first_name:first2"] },\n'
    )
    text = packaged.read_text().replace('    ["email"],\n', '    ["email"],\n' + neighbourhood)
    assert neighbourhood in text
    rules.write_text(text, encoding="utf-8")

    def opened(name: str) -> IdentityGraph:
        graph = IdentityGraph.open(f"sqlite:///{tmp_path / name}", rules)
        for mapping_path in sorted(files.mappings_dir.glob("*.toml")):
            graph.ingest.register_source(load_mapping(mapping_path, rules=graph.rules))
        return graph

    batch = opened("batch.db")
    rows = rows_of(batch, files)
    ingest_in_batches(batch, rows)
    matcher = batch.probabilistic()
    matcher.train()
    matcher.link_all()

    realtime = opened("realtime.db")
    for key in (MODEL_KEY, STAMP_KEY):
        realtime.store.meta.set(key, batch.store.meta.get(key))
    random.Random(4).shuffle(rows)
    for source, number, row in rows:
        realtime.ingest.ingest_rows(source, [(number, row)])
    expected, found = links_by_ref(batch), links_by_ref(realtime)
    # Real time meets each sorted-neighbourhood key's own value only: fewer pairs, each
    # scored as batch scores it.
    assert found.keys() < expected.keys()
    for pair, link in found.items():
        assert (link.type, link.evidence) == (expected[pair].type, expected[pair].evidence)

    realtime.probabilistic().link_all()
    assert links_by_ref(realtime).keys() == expected.keys()
    assert partition(realtime) == partition(batch)
