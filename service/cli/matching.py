"""Matching on the command line: train the model, link, evaluate against a truth file,
export every record's profile."""

from __future__ import annotations

import csv
import dataclasses
import gzip
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column, Table
from rich.text import Text

from identity.errors import (
    IdgraphError,
)
from service.cli.common import (
    RulesOption,
    StoreOption,
    _fail,
    _open,
    _opened,
    app,
    cli_actor,
    console,
    out,
)

if TYPE_CHECKING:
    from identity.matching.matcher import LinkReport, ProbabilisticMatcher
    from identity.model import JSONValue


@app.command("export-profiles")
def export_profiles(
    out_file: Annotated[Path, typer.Option("--out", "-o", help="CSV file to write (.gz ok)")],
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Write source,record_key,profile_id for every stored record."""
    with _opened(store, rules) as graph:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        opener = gzip.open if out_file.suffix == ".gz" else open
        count = 0
        with opener(out_file, "wt", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["source", "record_key", "profile_id"])
            for ref, profile_id in graph.store.records.scan_profiles():
                writer.writerow([ref.source, ref.key, profile_id or ""])
                count += 1
    console.print(f"wrote {count:,} records to {out_file}")


@app.command()
def evaluate(
    truth: Annotated[Path, typer.Option("--truth", help="CSV source,record_key,entity_id")],
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Pairwise and B-cubed precision, recall and F1 of the stored profiles against a truth file."""
    from identity.evaluation import load_assignment, pairwise

    try:
        truth_map = load_assignment(truth)
        graph = _open(store, rules)
        try:
            predicted: dict[tuple[str, str], str | None] = {
                (ref.source, ref.key): pid for ref, pid in graph.store.records.scan_profiles()
            }
        finally:
            graph.close()
        scores = pairwise(predicted, truth_map)
    except IdgraphError as error:
        raise _fail(error) from error
    table = Table("measure", "value")
    for f in dataclasses.fields(scores):
        value = getattr(scores, f.name)
        table.add_row(f.name, f"{value:.4f}" if isinstance(value, float) else f"{value:,}")
    out.print(table)


class _CountColumn(ProgressColumn):
    """How much of a phase is done: ``1,200,000 / 26,503,869``, a bare count where the
    total is not known ahead, nothing for a phase without counts."""

    def render(self, task: Task) -> Text:
        done = int(task.completed)
        if task.fields.get("counted") is False:
            return Text("")
        if task.total is None:
            return Text(f"{done:,}", style="progress.download")
        return Text(f"{done:,} / {int(task.total):,}", style="progress.download")


@contextmanager
def _phases() -> Iterator[Callable[[str, int, int | None], None]]:
    """A progress line per phase of a long job (reading records, blocking, scoring pairs,
    writing links), each with its count, out of what where known, and its time: a
    minutes-long `train` or `link` says what it is doing and how far it is."""
    bars = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=24),
        _CountColumn(table_column=Column(no_wrap=True)),
        TimeElapsedColumn(),
        console=console,
    )
    current: list[tuple[str, TaskID]] = []

    def finish() -> None:
        # The phase is over: its bar full, its count what it reached.
        task = bars.tasks[-1]
        bars.update(current[-1][1], total=max(task.completed, 1), completed=max(task.completed, 1))

    def update(phase: str, done: int, total: int | None) -> None:
        if not current or current[-1][0] != phase:
            if current:
                finish()
            task = bars.add_task(phase, total=total, counted=bool(done or total))
            current.append((phase, task))
        task = current[-1][1]
        if done or total:
            bars.update(task, completed=done, total=total, counted=True)

    with bars:
        yield update
        if current:
            finish()


@app.command()
def train(store: StoreOption = None, rules: RulesOption = None) -> None:
    """Estimate the probabilistic match model on the stored records and keep it in the store.

    Rebuilds the match index first when the [matching] settings changed since it was built.
    """
    with _opened(store, rules) as graph:
        matcher = graph.probabilistic()
        with _phases() as progress:
            model = matcher.train(progress=progress)
    table = Table("comparison", "level", "m", "u", "weight")
    for params in model.comparisons:
        for level, name in enumerate(params.levels):
            table.add_row(
                params.name,
                name,
                f"{params.m[level]:.4f}",
                f"{params.u[level]:.5f}",
                f"{params.weight(level):+.2f}",
            )
    out.print(table)
    console.print(f"prior {model.prior:.3g}; trained on {model.trained_on}", highlight=False)


class Engine(StrEnum):
    local = "local"
    spark = "spark"


@app.command()
def link(
    store: StoreOption = None,
    rules: RulesOption = None,
    engine: Annotated[
        Engine, typer.Option("--engine", help="local (this process) or spark (docs/scale.md)")
    ] = Engine.local,
    spark_master: Annotated[
        str, typer.Option("--spark-master", help="Spark master URL: local[2], spark://h:7077, yarn")
    ] = "local[2]",
    spark_conf: Annotated[
        list[str] | None,
        typer.Option("--spark-conf", help="KEY=VALUE Spark setting (repeatable)"),
    ] = None,
    match_rows: Annotated[
        str | None,
        typer.Option(
            "--match-rows",
            help="Spark: read the match rows from this Parquet or CSV (from `idgraph "
            "export-match-rows`) instead of exporting them from the store",
        ),
    ] = None,
) -> None:
    """Link the stored records with the trained model and re-resolve their profiles."""
    if engine is Engine.local and match_rows is not None:
        raise _fail(ValueError("--match-rows needs --engine spark"))
    with _opened(store, rules) as graph:
        matcher = graph.probabilistic()
        if engine is Engine.spark:
            report = _link_on_spark(matcher, spark_master, spark_conf or [], match_rows)
        else:
            with _phases() as progress:
                report = matcher.link_all(progress=progress)
        # The review queue changed: its size after the run goes into the audit log
        # (the quality page's history, identity/quality.py).
        graph.quality.record_link(_link_counts(report), cli_actor(), engine.value)
    _print_link_report(report)


def _link_counts(report: LinkReport) -> dict[str, JSONValue]:
    return {
        "records": report.records,
        "candidate_pairs": report.candidate_pairs,
        "links": report.links,
        "reviews": report.reviews,
        "profiles_merged": report.profiles_merged,
        "profiles_split": report.profiles_split,
    }


def _link_on_spark(
    matcher: ProbabilisticMatcher, master: str, conf: list[str], match_rows: str | None
) -> LinkReport:
    from identity.matching.spark import link_with_spark
    from service.spark_session import spark_session

    settings: dict[str, str] = {}
    for item in conf:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise _fail(ValueError(f"--spark-conf takes KEY=VALUE, got {item!r}"))
        settings[key.strip()] = value.strip()
    with (
        console.status(f"starting Spark on {master} ...") as status,
        tempfile.TemporaryDirectory(prefix="idgraph-link-") as work,
        spark_session(master, settings) as spark,
    ):
        found = link_with_spark(
            matcher, spark, match_rows=match_rows, work_dir=Path(work), progress=status.update
        )
    sizes = found.components
    console.print(
        f"Spark: {sizes.count:,} connected components of the MATCH links (largest "
        f"{sizes.largest:,} records); seconds by stage: "
        + ", ".join(f"{name} {seconds:.1f}" for name, seconds in found.timings.items()),
        highlight=False,
    )
    return found.report


@app.command("export-match-rows")
def export_match_rows(
    out_file: Annotated[Path, typer.Option("--out", "-o", help="Parquet file to write")],
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Write every record's match row (id and compared fields) to Parquet, for
    `idgraph link --engine spark --match-rows` on a cluster (docs/scale.md)."""
    from identity.matching.spark import write_match_rows

    with _opened(store, rules) as graph:
        matcher = graph.probabilistic()
        matcher.index.ensure()
        fields = [c.field for c in matcher.settings.comparisons]
        count = write_match_rows(graph.store.matching.scan_rows(), fields, out_file)
    console.print(f"wrote {count:,} match rows to {out_file}")


def _print_link_report(report: LinkReport) -> None:
    console.print(
        f"{report.records:,} records, {report.candidate_pairs:,} candidate pairs: "
        f"{report.links:,} links, {report.reviews:,} for review; profiles "
        f"{report.profiles_merged:,} merged, {report.profiles_split:,} split"
    )
    if report.duplicates_held or report.duplicates_linked:
        console.print(
            f"duplicate accounts within one source: {report.duplicates_held:,} held for review "
            f"by a limit per profile, {report.duplicates_linked:,} linked over it by the rules"
        )
    capped = report.oversized_keys
    if capped.keys:
        largest = ", ".join(f"{key} ({n:,} records)" for n, key in capped.largest)
        console.print(
            f"{capped.keys:,} blocking key values held by more than max_block_size records "
            f"gave no candidates ({capped.records:,} records in all); largest: {largest}",
            highlight=False,
        )
