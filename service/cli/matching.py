"""Matching on the command line: train the model, link, evaluate against a truth file,
export every record's profile."""

from __future__ import annotations

import csv
import dataclasses
import gzip
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

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
    console,
    out,
)


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


@app.command()
def train(store: StoreOption = None, rules: RulesOption = None) -> None:
    """Estimate the probabilistic match model on the stored records and keep it in the store.

    Rebuilds the match index first when the [matching] settings changed since it was built.
    """
    with _opened(store, rules) as graph:
        matcher = graph.probabilistic()
        with console.status("reading records ...") as status:
            frame = matcher.all_frame(progress=status.update)
        with console.status(f"training on {len(frame):,} records ..."):
            model = matcher.train(frame)
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


@app.command()
def link(store: StoreOption = None, rules: RulesOption = None) -> None:
    """Link the stored records with the trained model and re-resolve their profiles."""
    with _opened(store, rules) as graph:
        matcher = graph.probabilistic()
        with console.status("scoring candidate pairs ..."):
            report = matcher.link_all()
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
