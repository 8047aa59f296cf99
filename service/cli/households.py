"""Households on the command line: build them from the profiles, export them
(docs/households.md)."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import Annotated

import typer

from identity.households.service import BATCH
from service.cli.common import (
    RulesOption,
    StoreOption,
    _opened,
    _progress_bars,
    app,
    cli_actor,
    console,
)
from service.segment_export import ndjson_line

households_app = typer.Typer(
    help="Households: profiles that live together, related, never merged (docs/households.md).",
    no_args_is_help=True,
)
app.add_typer(households_app, name="households")

EXPORT_COLUMNS = ("household_id", "profile_id", "evidence")


@households_app.command("build")
def build(
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, max=10_000, help="Profiles per read")
    ] = BATCH,
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Derive every household from the profiles' golden records and identifiers and the
    stewards' corrections, replacing the stored ones at once. Households keep their ids
    where most of their members stay. Run after loads: households are not kept current
    per write."""
    with _opened(store, rules) as graph:
        total = graph.store.counts().profiles
        with _progress_bars() as bars:
            task = bars.add_task("reading profiles", total=total)
            report = graph.households.rebuild(
                batch_size, progress=lambda done: bars.update(task, completed=done)
            )
            bars.update(task, completed=report.profiles, total=report.profiles)
    evidence = ", ".join(f"{kind} {n:,}" for kind, n in sorted(report.evidence.items()))
    console.print(
        f"{report.households:,} households of {report.members:,} profiles (of "
        f"{report.profiles:,} read) in {report.seconds:.1f}s; {report.kept_ids:,} kept their "
        f"id; evidence pairs: {evidence or 'none'}",
        highlight=False,
    )
    if report.too_large or report.crowded_values:
        console.print(
            f"left out: {report.too_large:,} groups of {report.too_large_profiles:,} profiles "
            f"above households.max_members, {report.crowded_values:,} values shared by more "
            "profiles than a household has (a shop's number, a care home's address)",
            highlight=False,
        )
    if report.refused_by_stewards:
        console.print(
            f"{report.refused_by_stewards:,} evidence pairs refused by stewards' corrections",
            highlight=False,
        )


@households_app.command("export")
def export(
    out_file: Annotated[Path, typer.Option("--out", "-o", help="File to write (.gz ok)")],
    fmt: Annotated[str, typer.Option("--format", help="csv or ndjson")] = "csv",
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Write one line per household member: household_id, profile_id and the evidence
    types that joined the household (no personal values), households by id."""
    if fmt not in ("csv", "ndjson"):
        raise typer.BadParameter("use csv or ndjson", param_hint="--format")
    with _opened(store, rules) as graph:
        households, members = graph.store.households.count()
        out_file.parent.mkdir(parents=True, exist_ok=True)
        opener = gzip.open if out_file.suffix == ".gz" else open
        with (
            opener(out_file, "wt", newline="", encoding="utf-8") as fh,
            _progress_bars() as progress,
        ):
            task = progress.add_task(f"households → {out_file.name}", total=members)
            writer = csv.writer(fh, lineterminator="\n") if fmt == "csv" else None
            if writer is not None:
                writer.writerow(EXPORT_COLUMNS)
            written = 0
            for page in graph.households.scan():
                for household in page:
                    kinds = list(household.evidence_types)
                    for profile_id in household.members:
                        if writer is not None:
                            writer.writerow((household.id, profile_id, ";".join(kinds)))
                        else:
                            row = {"household_id": household.id, "profile_id": profile_id}
                            line = ndjson_line({**row, "evidence": list(kinds)})
                            fh.write(line.decode("utf-8") + "\n")
                        written += 1
                progress.update(task, completed=written)
        graph.audit.record(
            cli_actor(),
            "households_export",
            str(out_file.name),
            after={"households": households, "members": written, "format": fmt},
        )
    console.print(f"wrote {written:,} members of {households:,} households to {out_file}")
