"""The Spark engine for batch linking (``idgraph link --engine spark``): blocking, comparison,
scoring and connected components as Spark jobs over the records' match rows, the links
written back through the store as the local engine writes them.

Identical results by construction, not by a second implementation: each partition derives
blocking keys with :meth:`Linker.blocking_keys` and compares and weighs its pairs with
:meth:`Linker.compare` and :meth:`MatchModel.weights`, the code the local engine runs; Spark
does the joins, the oversized-key cap and the shuffles. Pairs at or above the review
threshold come back to the driver, where :meth:`ProbabilisticMatcher.decide_links` and
:meth:`ProbabilisticMatcher.link_scored` turn them into links and profiles (the resolver's
limits, cannot-links and stable ids hold). pyspark is imported only here, and only when
the engine runs: the domain works without it.
"""

from __future__ import annotations

import json
import pickle
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from identity.errors import ConfigError, EngineUnavailable
from identity.matching.linker import BlockingCap, LinkageSettings, Linker, ScoredPairs
from identity.matching.matcher import LinkReport, ProbabilisticMatcher
from identity.matching.model import MatchModel, probabilities
from identity.model import LinkType, MatchRow
from identity.rules import SortedNeighbourhoodRule

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

ID = "id"
"""The record id column of a match rows file; the other columns are the compared fields."""
_ROWS_BATCH = 50_000
_MAX_COMPONENT_ROUNDS = 200

Progress = Callable[[str], None]


def install_hint() -> str:
    return "install the Spark engine with `pip install 'idgraph[spark]'` (it needs Java 17+)"


def _pyspark() -> Any:
    try:
        import pyspark.sql
    except ImportError as error:
        raise EngineUnavailable(f"pyspark is not installed: {install_hint()}") from error
    return pyspark.sql


# -- match rows as files ---------------------------------------------------------------------


def write_match_rows(
    batches: Iterable[Sequence[MatchRow]], fields: Sequence[str], path: Path
) -> int:
    """Write match rows (record id and compared fields) to a Parquet file, a batch at a
    time so a store of any size streams through; returns how many rows were written.
    The blocking keys are not written: the engine derives them from the fields."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as error:
        raise EngineUnavailable(f"pyarrow is not installed: {install_hint()}") from error
    schema = pa.schema([(ID, pa.int64()), *((name, pa.string()) for name in fields)])
    written = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(str(path), schema) as writer:
        pending: list[MatchRow] = []
        for batch in batches:
            pending.extend(batch)
            if len(pending) >= _ROWS_BATCH:
                writer.write_table(_rows_table(pa, schema, pending, fields))
                written += len(pending)
                pending = []
        if pending or written == 0:
            writer.write_table(_rows_table(pa, schema, pending, fields))
            written += len(pending)
    return written


def _rows_table(pa: Any, schema: Any, rows: Sequence[MatchRow], fields: Sequence[str]) -> Any:
    columns: dict[str, list[Any]] = {ID: [row.record_id for row in rows]}
    for name in fields:
        columns[name] = [row.fields.get(name) for row in rows]
    return pa.table(columns, schema=schema)


def read_match_rows(spark: SparkSession, path: str, fields: Sequence[str]) -> DataFrame:
    """Match rows from Parquet (a file or a folder of parts) or CSV with a header: ``id`` and
    one column per compared field; an empty value is missing. ConfigError naming the
    columns the file lacks."""
    functions = _pyspark().functions
    from pyspark.errors import AnalysisException

    try:
        if path.lower().endswith((".csv", ".csv.gz")):
            frame = spark.read.option("header", True).csv(path)
        else:
            frame = spark.read.parquet(path)
    except AnalysisException as error:  # no such path, not Parquet
        raise ConfigError(f"cannot read the match rows: {error}", path=path) from error
    missing = [name for name in (ID, *fields) if name not in frame.columns]
    if missing:
        raise ConfigError(
            f"the match rows have no column {', '.join(missing)} (expected: "
            f"{', '.join((ID, *fields))})",
            path=path,
        )
    columns = [functions.col(ID).cast("long").alias(ID)]
    for name in fields:
        # An empty string is no value, as the match index stores it.
        value = functions.col(name).cast("string")
        columns.append(
            functions.when(value == "", functions.lit(None)).otherwise(value).alias(name)
        )
    return frame.select(*columns)


# -- the engine ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Components:
    """Connected components of the MATCH links as Spark found them: how many, and their
    sizes (records), largest first. A report: the stored profiles come from the resolver."""

    count: int
    sizes: tuple[int, ...]

    @property
    def largest(self) -> int:
        return self.sizes[0] if self.sizes else 0


@dataclass(slots=True)
class SparkLinkReport:
    """What the Spark engine did: the store's :class:`LinkReport` and the components."""

    report: LinkReport
    components: Components
    timings: dict[str, float] = field(default_factory=dict)


class SparkLinker:
    """Blocks and scores the pairs of a DataFrame of match rows on a Spark session."""

    def __init__(
        self, spark: SparkSession, settings: LinkageSettings, model: MatchModel | None = None
    ) -> None:
        self.spark = spark
        self.settings = settings
        self.model = model or MatchModel.start(settings.comparisons)
        self.fields = [c.field for c in settings.comparisons]
        # Shipped once per executor, not once per task; cloudpickle, as comparisons hold
        # closures plain pickle refuses.
        from pyspark import cloudpickle

        # (pyspark's bundled cloudpickle has no annotations)
        pickled: bytes = cloudpickle.dumps(settings)  # type: ignore[no-untyped-call]
        self._settings = spark.sparkContext.broadcast(pickled)
        self._model = spark.sparkContext.broadcast(self.model.to_document())
        self._cached: list[DataFrame] = []

    # -- blocking ------------------------------------------------------------------------

    def _keys(self, rows: DataFrame) -> DataFrame:
        """Per record and blocking rule it has every key of: the rule's number, its key
        values as one JSON string (to group and join on), their label as the local engine
        reports an oversized one, and for a sorted neighbourhood the sorting value and the
        JSON of the ``block_on`` values apart."""
        settings = self._settings
        fields = self.fields

        def derive(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            linker = Linker(pickle.loads(settings.value))
            for batch in batches:
                frame = _as_match_frame(batch, fields)
                ids = frame.index.to_numpy(dtype=np.int64)
                parts = []
                for number, rule in enumerate(linker.settings.blocking):
                    keys = linker.blocking_keys(frame, rule)
                    values = keys.to_numpy(dtype=object)
                    held = np.flatnonzero(keys.notna().all(axis=1).to_numpy())
                    lists = [[str(v) for v in values[i]] for i in held]
                    sorted_rule = isinstance(rule, SortedNeighbourhoodRule)
                    parts.append(
                        pd.DataFrame(
                            {
                                "rule": np.full(len(held), number, dtype=np.int32),
                                "key": [json.dumps(v) for v in lists],
                                "label": ["|".join(v) for v in lists],
                                ID: ids[held],
                                "sort": [v[0] if sorted_rule else None for v in lists],
                                "block": [
                                    json.dumps(v[1:]) if sorted_rule else None for v in lists
                                ],
                            }
                        )
                    )
                if parts:
                    yield pd.concat(parts, ignore_index=True)

        schema = "rule int, key string, label string, id long, sort string, block string"
        return rows.mapInPandas(derive, schema)

    def candidate_pairs(self, rows: DataFrame) -> tuple[DataFrame, BlockingCap]:
        """Distinct pairs (``left`` > ``right``, record ids, the local engine's orientation)
        of every blocking rule, and the key values left out for being held by more than
        ``max_block_size`` records (each gives no pairs, as in the local engine)."""
        sql = _pyspark()
        f = sql.functions
        # Cached: the key sizes and the joins both read the keys, derived in Python.
        keys = self._keys(rows).persist()
        self._cached.append(keys)
        sizes = keys.groupBy("rule", "key").agg(
            f.count("*").alias("n"), f.first("label").alias("label")
        )
        over = sizes.where(f.col("n") > self.settings.max_block_size)
        capped = BlockingCap()
        oversized = over.select("rule", "key", "label", "n").collect()
        for number in sorted({row["rule"] for row in oversized}):
            held = [row for row in oversized if row["rule"] == number]
            capped.add(
                number,
                pd.Series([row["n"] for row in held], index=[row["label"] for row in held]),
            )
        kept = keys
        if oversized:
            # The few oversized keys (each holds over max_block_size records) from the
            # driver, so the grouping above is not run again for the join.
            left_out = self.spark.createDataFrame(
                [(row["rule"], row["key"]) for row in oversized], "rule int, key string"
            )
            kept = keys.join(f.broadcast(left_out), ["rule", "key"], "left_anti")
        exact = [
            number
            for number, rule in enumerate(self.settings.blocking)
            if not isinstance(rule, SortedNeighbourhoodRule)
        ]
        pairs: list[DataFrame] = []
        if exact:
            # Every exact rule in one join: a key is its rule's number and values.
            mine = kept.where(f.col("rule").isin(exact))
            a = mine.select("rule", "key", f.col(ID).alias("left"))
            b = mine.select("rule", "key", f.col(ID).alias("right"))
            found = a.join(b, ["rule", "key"]).where(f.col("left") > f.col("right"))
            pairs.append(found.select("left", "right"))
        for number, rule in enumerate(self.settings.blocking):
            if isinstance(rule, SortedNeighbourhoodRule):
                mine = kept.where(f.col("rule") == number)
                pairs.append(_neighbour_pairs(sql, mine, rule.window))
        if not pairs:
            empty = self.spark.createDataFrame([], "left long, right long")
            return empty, capped
        union = pairs[0]
        for more in pairs[1:]:
            union = union.unionByName(more)
        return union.distinct(), capped

    def release(self) -> None:
        """Drop what this linker cached on the cluster."""
        for frame in self._cached:
            frame.unpersist()
        self._cached.clear()

    # -- scoring -------------------------------------------------------------------------

    def scored_pairs(self, rows: DataFrame, pairs: DataFrame) -> DataFrame:
        """The pairs at or above the review threshold with their comparison levels and
        match weight, each partition compared and weighed by the local engine's code."""
        f = _pyspark().functions
        fields = self.fields
        left = rows.select(f.col(ID).alias("left"), *(f.col(n).alias(f"l_{n}") for n in fields))
        right = rows.select(f.col(ID).alias("right"), *(f.col(n).alias(f"r_{n}") for n in fields))
        joined = pairs.join(left, "left").join(right, "right")
        settings = self._settings
        document = self._model
        threshold = self.settings.review_threshold
        columns = [f"level_{i}" for i in range(len(fields))]

        def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            model = MatchModel.from_document(document.value)
            linker = Linker(pickle.loads(settings.value), model)
            for batch in batches:
                if batch.empty:
                    continue
                records = pd.concat(
                    [
                        _side(batch, "left", "l_", fields),
                        _side(batch, "right", "r_", fields),
                    ]
                )
                records = records[~records.index.duplicated()]
                frame = _as_match_frame(records.reset_index(), fields)
                index = pd.MultiIndex.from_arrays(
                    [batch["left"].to_numpy(np.int64), batch["right"].to_numpy(np.int64)]
                )
                vectors, exact = linker.compare(index, frame)
                weights = model.weights(vectors, exact)
                keep = probabilities(weights) >= threshold
                out = pd.DataFrame(
                    {
                        "left": index.get_level_values(0).to_numpy()[keep],
                        "right": index.get_level_values(1).to_numpy()[keep],
                        "weight": weights[keep],
                    }
                )
                for column, name in enumerate(columns):
                    out[name] = vectors[keep, column].astype(np.int32)
                yield out

        schema = "left long, right long, weight double, " + ", ".join(
            f"{name} int" for name in columns
        )
        return joined.mapInPandas(score, schema)


def _side(batch: pd.DataFrame, id_column: str, prefix: str, fields: Sequence[str]) -> pd.DataFrame:
    side = batch[[id_column, *(prefix + n for n in fields)]]
    side = side.rename(columns={id_column: ID, **{prefix + n: n for n in fields}})
    return side.set_index(ID)


def _as_match_frame(batch: pd.DataFrame, fields: Sequence[str]) -> pd.DataFrame:
    """Match rows as the local engine holds them: index = record id ascending, one object
    column per field, missing as None (Arrow may hand over NaN)."""
    frame = batch.set_index(ID)[list(fields)].astype(object)
    frame = frame.where(frame.notna(), None).sort_index()
    frame.index = frame.index.astype(np.int64)
    frame.index.name = ID
    return frame


def _neighbour_pairs(sql: Any, keys: DataFrame, window: int) -> DataFrame:
    """A sorted-neighbourhood rule's pairs as recordlinkage makes them: each distinct
    sorting value (over the records that have every key of the rule and no oversized
    one) gets its rank, and two records pair when their ranks are at most
    ``(window - 1) / 2`` apart and their ``block_on`` values are equal."""
    f = sql.functions
    window_spec = sql.Window.orderBy("sort")
    # One partition ranks the distinct values: there are at most as many as records, and
    # the rank must be global, as recordlinkage's over the whole frame.
    ranks = keys.select("sort").distinct().withColumn("rank", f.dense_rank().over(window_spec))
    ranked = keys.join(ranks, "sort").select(ID, "block", "rank")
    reach = (window - 1) // 2
    offsets = ranked.select(
        f.col(ID).alias("right"),
        "block",
        "rank",
        f.explode(f.sequence(f.lit(-reach), f.lit(reach))).alias("offset"),
    )
    right = offsets.select("right", "block", (f.col("rank") + f.col("offset")).alias("rank"))
    left = ranked.select(f.col(ID).alias("left"), "block", "rank")
    return (
        left.join(right, ["block", "rank"])
        .where(f.col("left") > f.col("right"))
        .select("left", "right")
    )


def connected_components(spark: SparkSession, edges: DataFrame) -> DataFrame:
    """``id`` and ``component`` (the smallest id in it) of every record an edge (``a``,
    ``b``) touches. Each round, as in Shiloach-Vishkin: every record takes the smallest
    label among its own and its neighbours', every label seen beside a smaller one
    hooks its whole tree to that one, then every record takes its label's label
    (pointer jumping); a chain settles in a few rounds, not in its length. Labels only
    decrease, so an unchanged sum of labels means the labels are settled."""
    f = _pyspark().functions
    both = edges.select("a", "b").unionByName(
        edges.select(f.col("b").alias("a"), f.col("a").alias("b"))
    )
    both = both.where(f.col("a") != f.col("b")).distinct().localCheckpoint()
    labels = both.groupBy(f.col("a").alias(ID)).agg(f.least(f.col("a"), f.min("b")).alias("label"))
    # Checkpointed, so a round's plan starts from the last labels, not from the first
    # round; lazily, so the job that sums them also fills the checkpoint.
    labels = labels.localCheckpoint(eager=False)
    total = _sum_of(labels, "label")
    for _ in range(_MAX_COMPONENT_ROUNDS):
        ends = both.join(labels.select(f.col(ID).alias("a"), f.col("label").alias("la")), "a").join(
            labels.select(f.col(ID).alias("b"), f.col("label").alias("lb")), "b"
        )
        seen = ends.groupBy(f.col("a").alias(ID)).agg(f.min("lb").alias("seen"))
        hooks = (
            ends.where(f.col("lb") < f.col("la"))
            .groupBy(f.col("la").alias("label"))
            .agg(f.min("lb").alias("hook"))
        )
        step = (
            labels.join(seen, ID, "left")
            .join(hooks, "label", "left")
            .select(
                ID,
                f.least("label", f.coalesce("seen", "label"), f.coalesce("hook", "label")).alias(
                    "label"
                ),
            )
            .localCheckpoint(eager=False)
        )
        jumped = step.join(
            step.select(f.col(ID).alias("label"), f.col("label").alias("next")), "label", "left"
        ).select(ID, f.least("label", f.coalesce("next", "label")).alias("label"))
        labels = jumped.localCheckpoint(eager=False)
        now = _sum_of(labels, "label")
        if now == total:
            return labels.withColumnRenamed("label", "component")
        total = now
    raise RuntimeError(f"connected components did not settle in {_MAX_COMPONENT_ROUNDS} rounds")


def _check_ids(rows: DataFrame, path: str) -> None:
    """ConfigError unless every row of a match rows file has its own integer id."""
    f = _pyspark().functions
    found = rows.agg(
        f.count("*").alias("rows"), f.count(ID).alias("ids"), f.countDistinct(ID).alias("distinct")
    ).first()
    if found is None:
        return
    if found["ids"] != found["rows"]:
        raise ConfigError(
            f"{found['rows'] - found['ids']:,} match rows have no integer id", path=path, field=ID
        )
    if found["distinct"] != found["ids"]:
        raise ConfigError(
            f"{found['ids'] - found['distinct']:,} match rows repeat another row's id",
            path=path,
            field=ID,
        )


def _sum_of(frame: DataFrame, column: str) -> int:
    found = frame.agg(_pyspark().functions.sum(column)).first()
    return int(found[0]) if found is not None and found[0] is not None else 0


def link_with_spark(
    matcher: ProbabilisticMatcher,
    spark: SparkSession,
    match_rows: str | None = None,
    work_dir: Path | None = None,
    progress: Progress | None = None,
) -> SparkLinkReport:
    """``idgraph link`` on Spark: the stored records' match rows (exported to Parquet in
    ``work_dir``), or the match rows file ``match_rows`` (record ids of this store), are
    blocked and scored on ``spark``; the links are written through the store and the
    profiles re-resolved as :meth:`ProbabilisticMatcher.link_all` does."""

    def say(message: str) -> None:
        if progress is not None:
            progress(message)

    timings: dict[str, float] = {}
    started = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal started
        now = time.perf_counter()
        timings[name] = round(now - started, 2)
        started = now

    model, why = matcher.current_model()
    if model is None:
        raise ConfigError(f"{why}", field="model")
    fields = [c.field for c in matcher.settings.comparisons]
    if match_rows is None:
        if work_dir is None:
            raise ValueError("link_with_spark needs match_rows or a work_dir to export to")
        if not matcher.index.is_current():
            say("indexing the stored records for the [matching] settings")
            matcher.index.rebuild()
        say("exporting the match rows to Parquet")
        match_rows = str(work_dir / "match_rows.parquet")
        write_match_rows(matcher.store.matching.scan_rows(), fields, Path(match_rows))
        lap("export")
    else:
        _check_ids(read_match_rows(spark, match_rows, fields), match_rows)
    rows = read_match_rows(spark, match_rows, fields).persist()
    engine = SparkLinker(spark, matcher.settings, model)
    # What is cached on the cluster is dropped however this ends: the session may be a
    # notebook's, running on.
    try:
        say("blocking on Spark")
        pairs, capped = engine.candidate_pairs(rows)
        pairs = pairs.persist()
        engine._cached.append(pairs)
        candidates = pairs.count()
        lap("blocking")
        say(f"scoring {candidates:,} candidate pairs on Spark")
        scored = cast(pd.DataFrame, engine.scored_pairs(rows, pairs).toPandas())
        scored = scored.sort_values(["left", "right"], kind="stable").reset_index(drop=True)
        lap("scoring")
        ids = cast(pd.DataFrame, rows.select(ID).toPandas())
        record_ids = [int(x) for x in ids[ID].to_numpy()]
        involved = sorted(set(scored["left"].tolist()) | set(scored["right"].tolist()))
        known = matcher.store.records.refs(involved)
        unknown = [rid for rid in involved if rid not in known]
        if unknown:
            raise ConfigError(
                f"{len(unknown):,} record ids of the match rows are not in the store "
                f"(first: {unknown[:5]}): match rows must come from this store",
                path=match_rows,
            )
        say(f"deciding {len(scored):,} pairs at or above the review threshold")
        frame = _involved_frame(spark, rows, involved, fields)
    finally:
        engine.release()
        rows.unpersist()
    vectors = scored[[f"level_{i}" for i in range(len(fields))]].to_numpy(dtype=np.int8)
    result = ScoredPairs(
        scored["left"].to_numpy(np.int64),
        scored["right"].to_numpy(np.int64),
        vectors,
        scored["weight"].to_numpy(np.float64),
        capped=capped,
        candidates=candidates,
    )
    links = matcher.decide_links(model, result, frame)
    lap("deciding")
    say(f"writing {len(links):,} links and re-resolving profiles")
    report = matcher.link_scored(model, result, frame, record_ids)
    lap("writing")
    say("connected components of the MATCH links on Spark")
    edges = [(link.a, link.b) for link in links if link.type is LinkType.MATCH]
    components = _component_sizes(spark, edges)
    lap("components")
    return SparkLinkReport(report, components, timings)


def _involved_frame(
    spark: SparkSession, rows: DataFrame, ids: list[int], fields: Sequence[str]
) -> pd.DataFrame:
    """The match frame of the records these pairs name, fetched from the rows on Spark."""
    if not ids:
        return _as_match_frame(pd.DataFrame({ID: [], **{n: [] for n in fields}}), fields)
    wanted = spark.createDataFrame(pd.DataFrame({ID: np.asarray(ids, dtype=np.int64)}))
    return _as_match_frame(rows.join(wanted, ID, "left_semi").toPandas(), fields)


def _component_sizes(spark: SparkSession, edges: list[tuple[int, int]]) -> Components:
    if not edges:
        return Components(0, ())
    frame = spark.createDataFrame(
        pd.DataFrame(np.asarray(edges, dtype=np.int64), columns=["a", "b"])
    )
    found = connected_components(spark, frame)
    counted = cast(pd.DataFrame, found.groupBy("component").count().toPandas())
    sizes = counted["count"].to_numpy()
    ordered = tuple(int(n) for n in sorted(sizes.tolist(), reverse=True))
    return Components(len(ordered), ordered)
