"""Segments on the command line: define, list, refresh, delete and export them."""

from __future__ import annotations

import csv
import gzip
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from identity.errors import (
    InvalidArgument,
    UnknownSegment,
)
from identity.export import csv_cell
from service.cli.common import (
    RulesOption,
    StoreOption,
    _fail,
    _opened,
    _progress_bars,
    app,
    cli_actor,
    console,
    out,
    segments_app,
)
from service.segment_export import ndjson_line


@segments_app.command("define")
def segments_define(
    name: Annotated[str, typer.Argument(help="Segment name")],
    definition: Annotated[
        Path, typer.Option("--file", "-f", help="JSON file of the definition ('-' for stdin)")
    ],
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Create or replace a segment and evaluate it over every profile."""
    text = sys.stdin.read() if str(definition) == "-" else definition.read_text("utf-8")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise _fail(ValueError(f"{definition}: not valid JSON: {error}")) from error
    with _opened(store, rules) as graph:
        segment = graph.segments.define(name, document, actor=cli_actor())
    console.print(f"segment [bold]{segment.name}[/] defined: {segment.size:,} members")


@segments_app.command("list")
def segments_list(store: StoreOption = None, rules: RulesOption = None) -> None:
    """List segments with their sizes and definitions."""
    with _opened(store, rules) as graph:
        table = Table("segment", "members", "consent", "definition", "updated")
        for seg in graph.segments.segments():
            table.add_row(
                seg.name,
                f"{seg.size:,}",
                seg.definition.requires_consent or "",
                json.dumps(seg.definition.document.get("where"), ensure_ascii=False),
                seg.updated_at.isoformat(timespec="seconds"),
            )
        out.print(table)


@segments_app.command("refresh")
def segments_refresh(
    names: Annotated[list[str] | None, typer.Argument(help="Segments (default: all)")] = None,
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Re-evaluate segments over every profile, so time windows move with the clock.

    Run it on a schedule (cron, a Kubernetes CronJob); changes are logged for activation.
    """
    with _opened(store, rules) as graph:
        total = graph.store.counts().profiles
        with _progress_bars() as progress:
            task = progress.add_task("refreshing segments", total=total)
            report = graph.segments.refresh(
                names or None, progress=lambda done: progress.update(task, completed=done)
            )
    console.print(
        f"refreshed {report.segments} segments over {report.profiles:,} profiles: "
        f"{report.entered:,} entered, {report.exited:,} exited in {report.seconds:.1f}s"
    )


@segments_app.command("delete")
def segments_delete(
    name: Annotated[str, typer.Argument(help="Segment name")],
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Delete a segment with its members and change log. Destinations that follow it stop
    (state segment_removed) until removed, or resumed once the segment is defined again."""
    with _opened(store, rules) as graph:
        deleted = graph.segments.delete(name, actor=cli_actor())
    if not deleted:
        raise _fail(UnknownSegment(name))
    console.print(f"segment [bold]{name}[/] deleted")
    if deleted.stopped_destinations:
        console.print(
            f"[bold yellow]warning:[/] destination(s) {', '.join(deleted.stopped_destinations)} "
            f"followed segment {name} and are stopped (segment_removed): remove them, or "
            "define the segment again and `idgraph destinations resume` them",
            soft_wrap=True,
            highlight=False,
        )


@app.command("export-segment")
def export_segment(
    name: Annotated[str, typer.Argument(help="Segment name")],
    out_file: Annotated[Path, typer.Option("--out", "-o", help="File to write (.gz ok)")],
    fmt: Annotated[str, typer.Option("--format", help="csv or ndjson")] = "csv",
    fields: Annotated[
        str,
        typer.Option(
            help="Comma-separated: profile_id, identifier kinds, attributes, traits.NAME, "
            "consent.PURPOSE"
        ),
    ] = "profile_id,email,phone,first_name,last_name",
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Write every member of a segment, streaming (constant memory)."""
    if fmt not in ("csv", "ndjson"):
        raise typer.BadParameter("use csv or ndjson", param_hint="--format")
    chosen = [f.strip() for f in fields.split(",") if f.strip()]
    with _opened(store, rules) as graph:
        try:
            graph.catalog.check(chosen, argument="--fields")
        except InvalidArgument as error:
            raise typer.BadParameter(str(error).removeprefix("--fields: ")) from None
        size = graph.segments.get(name).size
        out_file.parent.mkdir(parents=True, exist_ok=True)
        opener = gzip.open if out_file.suffix == ".gz" else open
        count = 0
        with (
            opener(out_file, "wt", newline="", encoding="utf-8") as fh,
            _progress_bars() as progress,
        ):
            task = progress.add_task(f"{name} → {out_file.name}", total=size)
            writer = csv.writer(fh, lineterminator="\n") if fmt == "csv" else None
            if writer is not None:
                writer.writerow(chosen)
            for row in graph.segments.export(name, chosen, actor=cli_actor()):
                if writer is not None:
                    writer.writerow([csv_cell(row[f]) for f in chosen])
                else:
                    fh.write(ndjson_line(row).decode("utf-8") + "\n")
                count += 1
                if count % 1000 == 0:
                    progress.update(task, completed=count)
            progress.update(task, completed=count, total=count)
    console.print(f"wrote {count:,} members of {name} to {out_file}")
