"""The Spark engine (identity/matching/spark.py) in Spark local mode on the machine's Java:
the same candidates, links and profiles as the local engine on the demo generator's data."""

from __future__ import annotations

import itertools
import random
import shutil
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd
import pytest

from identity.demo.generator import generate
from identity.errors import ConfigError
from identity.graph import IdentityGraph
from identity.mapping import load_mapping
from identity.matching.linker import LinkageSettings, Linker
from identity.matching.matcher import MATCHER
from identity.matching.spark import (
    SparkLinker,
    connected_components,
    link_with_spark,
    read_match_rows,
    write_match_rows,
)
from identity.model import MatchRow
from identity.readers import read_file
from identity.rules import SortedNeighbourhoodRule


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of the demo generator's people, ingested and trained, not yet linked."""
    tmp = tmp_path_factory.mktemp("spark-demo")
    files = generate(tmp / "demo", people=600, seed=23)
    path = tmp / "trained.db"
    graph = IdentityGraph.open(f"sqlite:///{path}")
    for mapping in sorted(files.mappings_dir.glob("*.toml")):
        graph.ingest.register_source(load_mapping(mapping, rules=graph.rules))
    for source, data in sorted(files.files.items()):
        graph.ingest.ingest_rows(source, read_file(data, graph.ingest.source(source).format))
    graph.probabilistic().train()
    graph.close()
    return path


def copy_of(store: Path, to: Path) -> IdentityGraph:
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{store}{suffix}").exists():
            shutil.copy(f"{store}{suffix}", f"{to}{suffix}")
    return IdentityGraph.open(f"sqlite:///{to}")


def outcome(graph: IdentityGraph) -> tuple[list[tuple[Any, ...]], list[list[Any]]]:
    """Every stored link (by record refs, with type, matcher, weight, evidence) and the
    profiles as a partition of record refs."""
    refs = {ref: pid for ref, pid in graph.store.records.scan_profiles()}
    ids = graph.store.records.ids(list(refs))
    by_id = {rid: ref for ref, rid in ids.items()}
    links = sorted(
        (
            (by_id[x.a], by_id[x.b], x.type.value, x.matcher, x.weight, x.evidence)
            for x in graph.store.links.of(sorted(by_id))
        ),
        key=lambda link: (*link[:5], repr(link[5])),
    )
    members: dict[Any, list[Any]] = {}
    for ref, pid in refs.items():
        members.setdefault(pid, []).append(ref)
    return links, sorted(sorted(m) for m in members.values())


def test_spark_links_and_profiles_are_the_local_engines(
    spark: Any, trained: Path, tmp_path: Path
) -> None:
    local = copy_of(trained, tmp_path / "local.db")
    on_spark = copy_of(trained, tmp_path / "spark.db")
    try:
        expected = local.probabilistic().link_all()
        found = link_with_spark(on_spark.probabilistic(), spark, work_dir=tmp_path)
        assert found.report == expected
        assert expected.links > 1000 and expected.reviews > 100
        want_links, want_profiles = outcome(local)
        got_links, got_profiles = outcome(on_spark)
        assert got_profiles == want_profiles
        assert len(got_links) == len(want_links)
        for got, want in zip(got_links, want_links, strict=True):
            assert got[:4] == want[:4]
            assert got[4] == pytest.approx(want[4], rel=1e-12)
            assert got[5] == want[5]
        # The components Spark reports are those of the stored MATCH links.
        graph = nx.Graph()
        graph.add_edges_from(
            (a, b) for a, b, kind, matcher, *_ in got_links if (kind, matcher) == ("match", MATCHER)
        )
        sizes = sorted((len(c) for c in nx.connected_components(graph)), reverse=True)
        assert list(found.components.sizes) == sizes
    finally:
        local.close()
        on_spark.close()


def test_spark_blocking_pairs_sorted_neighbourhoods_and_caps_keys_as_the_local_engine(
    spark: Any, trained: Path, tmp_path: Path
) -> None:
    graph = IdentityGraph.open(f"sqlite:///{trained}")
    try:
        matcher = graph.probabilistic()
        rows = [row for batch in graph.store.matching.scan_rows() for row in batch]
        frame = matcher.index.frame(rows)
        fields = matcher.rules.matching.fields if matcher.rules.matching else {}
    finally:
        graph.close()
    settings = LinkageSettings.build(
        dict(fields),
        [
            SortedNeighbourhoodRule("last_name", window=5, block_on=("birth_date:year",)),
            SortedNeighbourhoodRule("first_name:sound", window=3),
            ["postcode"],
            ["email:local"],
        ],
        # Small enough that common surnames, years and postcodes are left out.
        max_block_size=6,
    )
    local = Linker(settings)
    want = set(local.candidate_pairs(frame).to_list())
    want_capped = local.oversized_keys(frame)
    assert want_capped.keys > 0 and len(want) > 1000

    names = [c.field for c in settings.comparisons]
    parquet = tmp_path / "rows.parquet"
    write_match_rows([rows], names, parquet)
    rows_df = read_match_rows(spark, str(parquet), names)
    pairs, capped = SparkLinker(spark, settings).candidate_pairs(rows_df)
    got = {(int(r["left"]), int(r["right"])) for r in pairs.collect()}
    assert got == want
    assert (capped.keys, capped.records, capped.largest) == (
        want_capped.keys,
        want_capped.records,
        want_capped.largest,
    )
    # The same rows read from CSV (empty = missing) are the same rows.
    csv = tmp_path / "rows.csv"
    frame.reset_index().to_csv(csv, index=False)
    from_csv = read_match_rows(spark, str(csv), names).toPandas().sort_values("id")
    from_parquet = rows_df.toPandas().sort_values("id")
    pd.testing.assert_frame_equal(
        from_csv.reset_index(drop=True), from_parquet.reset_index(drop=True)
    )


def test_match_rows_that_the_store_does_not_hold_are_refused_naming_the_file(
    spark: Any, trained: Path, tmp_path: Path
) -> None:
    graph = copy_of(trained, tmp_path / "store.db")
    try:
        matcher = graph.probabilistic()
        fields = [c.field for c in matcher.settings.comparisons]
        rows = [row for batch in graph.store.matching.scan_rows() for row in batch]
        foreign = [MatchRow(r.record_id + 10_000_000, r.fields, r.keys) for r in rows]
        path = tmp_path / "foreign.parquet"
        write_match_rows([foreign], fields, path)
        with pytest.raises(ConfigError, match=r"not in the store.*foreign\.parquet"):
            link_with_spark(matcher, spark, match_rows=str(path))
        pd.DataFrame({"id": [1], "email": ["a@example.com"]}).to_csv(tmp_path / "thin.csv")
        with pytest.raises(ConfigError, match="no column first_name"):
            link_with_spark(matcher, spark, match_rows=str(tmp_path / "thin.csv"))
        twice = tmp_path / "twice.parquet"
        write_match_rows([rows[:3] + rows[:1]], fields, twice)
        with pytest.raises(ConfigError, match="1 match rows repeat another row's id"):
            link_with_spark(matcher, spark, match_rows=str(twice))
        with pytest.raises(ConfigError, match="cannot read the match rows"):
            link_with_spark(matcher, spark, match_rows=str(tmp_path / "absent.parquet"))
    finally:
        graph.close()


def test_spark_connected_components_agree_with_networkx_on_a_random_graph(spark: Any) -> None:
    rng = random.Random(7)
    nodes = rng.sample(range(1, 10_000), 300)
    edges = [tuple(rng.sample(nodes, 2)) for _ in range(200)]
    # A long chain, numbered against its order, settles only by jumping labels; a star.
    chain = rng.sample(range(20_000, 30_000), 60)
    edges += list(itertools.pairwise(chain))
    edges += [(40_000, leaf) for leaf in range(40_001, 40_050)]
    frame = spark.createDataFrame(pd.DataFrame(edges, columns=["a", "b"]))
    found = connected_components(spark, frame).toPandas()
    by_component: dict[int, set[int]] = {}
    for node, component in zip(found["id"], found["component"], strict=True):
        by_component.setdefault(int(component), set()).add(int(node))
    graph = nx.Graph()
    graph.add_edges_from(edges)
    expected = {min(c): c for c in nx.connected_components(graph)}
    assert by_component == expected
