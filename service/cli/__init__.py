"""The `idgraph` command: ingest files, register sources, export, evaluate, migrate, run the
demo, serve.

An entry point like the HTTP app: it translates arguments to domain calls and prints
results; the work itself happens in :mod:`identity`.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import itertools
import json
import os
import shlex
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.progress import TaskID
from rich.table import Table
from rich.text import Text

from identity.errors import (
    IdgraphError,
    InvalidArgument,
    InvalidPayload,
    RowProblem,
    UnknownSegment,
)
from identity.events import EventIngestReport, EventParser
from identity.graph import IdentityGraph
from identity.ingest import IngestProgress, IngestReport, Row
from identity.limits import printable
from identity.mapping import RecordMapper, SourceMapping, encoding_problem, load_mapping
from identity.mapping.check import MappingCheck, check_event_mapping, check_mapping
from identity.mapping.events import EventMapping, EventRowMapper, load_event_mapping
from identity.mapping.suggest import looks_like_events, suggest_event_mapping, suggest_mapping
from identity.migration import DEFAULT_BATCH_SIZE, MigrationProgress, MigrationReport, migrate_store
from identity.normalise import Normaliser
from identity.readers import check_file, read_file
from identity.rules import Rules, load_rules
from identity.segments import csv_cell
from identity.store.base import Store
from service.cli.common import (
    RulesOption,
    StoreOption,
    _cli_hint,
    _fail,
    _open,
    _opened,
    _progress_bars,
    app,
    cli_actor,
    console,
    mapping_app,
    out,
    segments_app,
    sources_app,
    token_app,
)


def _count_rows(path: Path) -> int | None:
    """Data rows in an uncompressed file, for the progress bar's total (None if unknown)."""
    if path.suffix == ".gz":
        return None
    lines = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            lines += chunk.count(b"\n")
    return max(lines - 1, 0) if path.suffix == ".csv" else lines


def _print_problems(errors: list[RowProblem], warnings: list[RowProblem], shown: int) -> None:
    for label, problems in (("error", errors), ("warning", warnings)):
        for p in problems[:shown]:
            # Row 0 is the file as a whole (its header, its encoding, no rows at all).
            at = f" row {p.row}" if p.row else ""
            field = f" field '{p.field}'" if p.field else ""
            where = f"{at}{field}:" if at or field else ""
            # The file is the user's own: show the value at fault (escaped), unlike HTTP.
            value = f" (value: {p.value!r})" if p.value is not None else ""
            console.print(
                f"  {label}:{where} {p.problem}{value}",
                highlight=False,
                markup=False,
            )
        if len(problems) > shown:
            console.print(f"  ... and {len(problems) - shown:,} more {label}s")


def _print_report(report: IngestReport, errors_shown: int = 10) -> None:
    rate = report.received / report.seconds if report.seconds else 0.0
    console.print(
        f"[bold]{report.source}[/]: {report.received:,} rows, {report.accepted:,} accepted "
        f"({report.created:,} new, {report.updated:,} updated, {report.unchanged:,} unchanged), "
        f"{report.rejected:,} rejected, {len(report.warnings):,} warnings; "
        f"profiles +{report.profiles_created:,} created, {report.profiles_merged:,} merged, "
        f"{report.profiles_split:,} split; {report.flagged_identifiers:,} identifiers flagged; "
        f"{report.seconds:.1f}s ({rate:,.0f} rows/s)"
    )
    _print_problems(report.errors, report.warnings, errors_shown)


@dataclasses.dataclass(frozen=True, slots=True)
class _Reading:
    """How the files of a source are read: the mapping's settings, or the options'."""

    fmt: str | None
    delimiter: str
    encoding: str
    allow_multiline: bool

    @classmethod
    def of(
        cls,
        mapping: SourceMapping,
        fmt: str | None = None,
        encoding: str | None = None,
        allow_multiline: bool = False,
    ) -> _Reading:
        return cls(
            fmt or mapping.format,
            mapping.csv_delimiter,
            encoding or mapping.encoding,
            allow_multiline or mapping.allow_multiline,
        )


@dataclasses.dataclass(slots=True)
class _Ingesting:
    """What an ``ingest`` command has done so far, for ``--errors-out`` however it ends."""

    source: str = ""
    loaded: list[tuple[Path, IngestReport]] = dataclasses.field(default_factory=list)
    current: Path | None = None
    """The file being checked or loaded when the command stopped."""
    stored: bool = False
    """Whether anything was written to the store before it stopped."""


_PROBLEM_COLUMNS = ["source", "severity", "row", "key", "field", "problem", "value", "file"]


def _problem_row(source: str, severity: str, p: RowProblem, path: Path | None) -> list[object]:
    # Escaped: the value may hold what a CSV or UTF-8 cannot (NUL, surrogates).
    value = printable(p.value) if p.value is not None else ""
    # Row 0, the file as a whole, is left empty.
    row = p.row or ""
    return [source, severity, row, p.key, p.field, p.problem, value, path or ""]


def _write_problems(path: Path, done: _Ingesting, failure: BaseException | None) -> None:
    """Every error and warning of the files loaded, then what stopped the command: one
    line per row at fault when a file was refused for its rows, else one for the file."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(_PROBLEM_COLUMNS)
        for file, report in done.loaded:
            for severity, problems in (("error", report.errors), ("warning", report.warnings)):
                for p in problems:
                    writer.writerow(_problem_row(report.source, severity, p, file))
        if failure is None:
            return
        problems = failure.problems if isinstance(failure, InvalidPayload) else []
        if not problems:
            message = (
                failure.format_message() if isinstance(failure, click.ClickException) else None
            )
            problems = [RowProblem(0, None, message or f"{failure}{_cli_hint(failure)}")]
        for p in problems:
            writer.writerow(_problem_row(done.source, "error", p, done.current))


def _check_files(files: list[Path], reading: _Reading, done: _Ingesting) -> dict[Path, int]:
    """Read every file once before any is stored: a file that cannot be read whole (not
    text in its encoding, a CSV whose layout is broken) stops the command with nothing
    stored. Returns the rows in each, for the progress bars."""
    totals = {}
    for path in files:
        done.current = path
        if not path.exists():
            raise typer.BadParameter(f"no such file: {path}", param_hint="FILE")
        with console.status(f"checking {path.name} ..."):
            totals[path] = check_file(
                path,
                reading.fmt,
                csv_delimiter=reading.delimiter,
                encoding=reading.encoding,
                allow_multiline=reading.allow_multiline,
            )
    return totals


def _ingest_files(
    graph: IdentityGraph,
    files: list[Path],
    reading: _Reading,
    done: _Ingesting,
    register: SourceMapping | None = None,
    quiet: bool = False,
) -> None:
    """Check every file (:func:`_check_files`), register the mapping when asked, then load
    the files one by one."""
    source = done.source
    totals = _check_files(files, reading, done)
    if register is not None:
        graph.ingest.register_source(register)
        done.stored = True
    for path in files:
        done.current = path
        with _progress_bars(disable=quiet) as progress:
            task = progress.add_task(f"{source} ← {path.name}", total=totals[path])

            def advance(p: IngestProgress, task_id: TaskID = task) -> None:
                done.stored = True
                progress.update(task_id, completed=p.rows)

            rows: Iterator[Row] = read_file(
                path,
                reading.fmt,
                csv_delimiter=reading.delimiter,
                max_depth=graph.rules.limits.max_depth,
                encoding=reading.encoding,
                allow_multiline=reading.allow_multiline,
            )
            report = graph.ingest.ingest_rows(source, rows, progress=advance, actor=cli_actor())
            progress.update(task, completed=report.received, total=report.received)
        done.loaded.append((path, report))
        _print_report(report)
    done.current = None


@app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(help="CSV or JSON Lines files (.gz too)")],
    source: Annotated[
        str | None, typer.Option("--source", "-s", help="Registered source name")
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option("--mapping", "-m", help="Mapping TOML: registers it first")
    ] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="csv or jsonl")] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            "--encoding",
            help="Text encoding of the files, e.g. cp1252 (default: the mapping's, else utf-8)",
        ),
    ] = None,
    allow_multiline: Annotated[
        bool,
        typer.Option(
            "--allow-multiline",
            help="Accept quoted CSV values spanning lines that hold what looks like a row",
        ),
    ] = False,
    errors_out: Annotated[
        Path | None,
        typer.Option(
            "--errors-out",
            help="Write every error and warning as CSV (always written; header only if none)",
        ),
    ] = None,
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Load records from files into the store and resolve their profiles.

    Every file is read once first: one that cannot be read whole (not text in its
    encoding, a CSV whose layout is broken) stops the command before anything is stored.
    """
    if source is None and mapping is None:
        raise typer.BadParameter("give --source NAME (registered) or --mapping FILE")
    if encoding is not None and (problem := encoding_problem(encoding)) is not None:
        raise typer.BadParameter(problem, param_hint="--encoding")
    done = _Ingesting(source=source or "")
    failure: BaseException | None = None
    try:
        with _opened(store, rules) as graph:
            try:
                loaded = load_mapping(mapping, rules=graph.rules) if mapping else None
                if loaded is not None:
                    if source is not None and source != loaded.source:
                        raise typer.BadParameter(
                            f"--source {source} but {mapping} maps source '{loaded.source}'"
                        )
                    done.source = loaded.source
                settings = loaded or graph.ingest.source(done.source)
                reading = _Reading.of(settings, fmt, encoding, allow_multiline)
                _ingest_files(graph, files, reading, done, register=loaded)
            except (IdgraphError, click.ClickException) as error:
                failure = error
                raise
    except typer.Exit:
        _print_refusal(failure, done)
        raise
    finally:
        if errors_out is not None:
            _write_problems(errors_out, done, failure)
            console.print(f"errors and warnings written to {errors_out}")


def _print_refusal(failure: BaseException | None, done: _Ingesting) -> None:
    """After the error line, which names the first row at fault: its excerpt, every other
    row at fault, and whether anything was stored."""
    if isinstance(failure, InvalidPayload) and failure.problems:
        first, *others = failure.problems
        if first.value is not None:
            console.print(f"  the text at fault: {first.value!r}", highlight=False, markup=False)
        _print_problems(others, [], 9)
    if done.current is not None and not done.stored:
        console.print("nothing was stored", highlight=False)


def _print_event_report(name: str, report: EventIngestReport, errors_shown: int = 10) -> None:
    rate = report.received / report.seconds if report.seconds else 0.0
    console.print(
        f"[bold]{name}[/]: {report.received:,} events, {report.accepted:,} accepted "
        f"({report.created:,} new, {report.updated:,} updated, {report.unchanged:,} unchanged), "
        f"{report.rejected:,} rejected, {len(report.warnings):,} warnings; "
        f"{report.stitched:,} identifiers stitched, {report.profiles_merged:,} profiles merged; "
        f"{report.seconds:.1f}s ({rate:,.0f} events/s)"
    )
    _print_problems(report.errors, report.warnings, errors_shown)


def _ingest_event_files(
    graph: IdentityGraph,
    files: list[Path],
    quiet: bool = False,
    mapping: EventMapping | None = None,
) -> list[EventIngestReport]:
    reports = []
    mapper = EventRowMapper(mapping, graph.normaliser) if mapping is not None else None
    for path in files:
        if not path.exists():
            raise typer.BadParameter(f"no such file: {path}", param_hint="FILE")
        with _progress_bars(disable=quiet) as progress:
            task = progress.add_task(f"events ← {path.name}", total=_count_rows(path))

            def advance(rows: int, task_id: TaskID = task) -> None:
                progress.update(task_id, completed=rows)

            if mapper is None:
                rows = read_file(path, "jsonl", max_depth=graph.rules.limits.max_depth)
            else:
                rows = _mapped_events(path, mapper, graph.rules.limits.max_depth)
            report = graph.events.ingest_rows(rows, progress=advance, actor=cli_actor())
            progress.update(task, completed=report.received, total=report.received)
        _print_event_report(path.name, report)
        reports.append(report)
    return reports


def _mapped_events(path: Path, mapper: EventRowMapper, max_depth: int) -> Iterator[Row]:
    """The rows of an event file of any shape, as the event objects its mapping makes."""
    m = mapper.mapping
    for number, row in read_file(
        path, m.format, csv_delimiter=m.csv_delimiter, max_depth=max_depth, encoding=m.encoding
    ):
        yield number, row if isinstance(row, RowProblem) else mapper.to_event(row)


@app.command("ingest-events")
def ingest_events(
    files: Annotated[list[Path], typer.Argument(help="Event files (.gz too)")],
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            "-m",
            help="Event mapping TOML, for CSV or JSON Lines of any shape (docs/sources.md)",
        ),
    ] = None,
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Load events: attach them to identifiers, stitch logins, update segments. Without
    --mapping, JSON Lines of event objects (docs/events.md)."""
    with _opened(store, rules) as graph:
        loaded = load_event_mapping(mapping, rules=graph.rules) if mapping else None
        _ingest_event_files(graph, files, mapping=loaded)


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
    """Delete a segment with its members and change log."""
    with _opened(store, rules) as graph:
        deleted = graph.segments.delete(name, actor=cli_actor())
    if not deleted:
        raise _fail(UnknownSegment(name))
    console.print(f"segment [bold]{name}[/] deleted")


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
                    fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
                count += 1
                if count % 1000 == 0:
                    progress.update(task, completed=count)
            progress.update(task, completed=count, total=count)
    console.print(f"wrote {count:,} members of {name} to {out_file}")


@sources_app.command("add")
def sources_add(
    mappings: Annotated[list[Path], typer.Argument(help="Mapping TOML files")],
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Register (or update) source mappings in the store."""
    with _opened(store, rules) as graph:
        for path in mappings:
            loaded = load_mapping(path, rules=graph.rules)
            graph.ingest.register_source(loaded)
            console.print(f"registered source [bold]{loaded.source}[/] from {path}")


@sources_app.command("list")
def sources_list(store: StoreOption = None, rules: RulesOption = None) -> None:
    """List registered sources."""
    with _opened(store, rules) as graph:
        table = Table("source", "key", "priority", "identifiers", "attributes")
        for m in graph.ingest.sources():
            table.add_row(
                m.source,
                m.key,
                str(m.priority),
                ", ".join(f"{i.field}→{i.kind}" for i in m.identifiers),
                ", ".join(a.name for a in m.attributes),
            )
        out.print(table)


def _rules_of(rules: Path | None) -> Rules:
    from service.config import Settings

    return load_rules(rules or Settings().rules)


def _percent(part: int, whole: int) -> str:
    return f"{part:,} ({part / whole:.0%})" if whole else "0"


@mapping_app.command("check")
def mapping_check(
    file: Annotated[Path, typer.Argument(help="A CSV or JSON Lines file (.gz too)")],
    mapping: Annotated[Path, typer.Option("--mapping", "-m", help="The mapping TOML to check")],
    rows: Annotated[
        int, typer.Option("--rows", min=1, help="Read at most this many rows")
    ] = 10_000,
    fmt: Annotated[str | None, typer.Option("--format", help="csv or jsonl")] = None,
    encoding: Annotated[
        str | None, typer.Option("--encoding", help="Text encoding (default: the mapping's)")
    ] = None,
    rules: RulesOption = None,
) -> None:
    """Map the first rows of FILE without storing anything: per mapped field how often it
    has a value and fails to parse (with examples), the mapped fields the file never holds
    (exit code 1), and a preview of five records (events, for an event mapping: one that
    names an event_id)."""
    if encoding is not None and (problem := encoding_problem(encoding)) is not None:
        raise typer.BadParameter(problem, param_hint="--encoding")
    if not file.exists():
        raise typer.BadParameter(f"no such file: {file}", param_hint="FILE")
    report: MappingCheck
    try:
        loaded_rules = _rules_of(rules)
        normaliser = Normaliser(loaded_rules)
        if _is_event_mapping(mapping):
            events = load_event_mapping(mapping, rules=loaded_rules)
            read = read_file(
                file,
                fmt or events.format,
                csv_delimiter=events.csv_delimiter,
                max_depth=loaded_rules.limits.max_depth,
                encoding=encoding or events.encoding,
            )
            report = check_event_mapping(
                itertools.islice(read, rows),
                EventRowMapper(events, normaliser),
                EventParser(loaded_rules, normaliser),
            )
            what = "events"
        else:
            loaded = load_mapping(mapping, rules=loaded_rules)
            reading = _Reading.of(loaded, fmt, encoding)
            read = read_file(
                file,
                reading.fmt,
                csv_delimiter=reading.delimiter,
                max_depth=loaded_rules.limits.max_depth,
                encoding=reading.encoding,
                allow_multiline=reading.allow_multiline,
            )
            report = check_mapping(itertools.islice(read, rows), RecordMapper(loaded, normaliser))
            what = f"source {loaded.source}"
    except IdgraphError as error:
        raise _fail(error) from None
    console.print(
        f"checked {report.rows:,} rows of {file} against {mapping} ({what}): "
        f"{report.rejected:,} rejected, {len(report.unreadable):,} unreadable",
        highlight=False,
    )
    table = Table("field", "maps to", "in rows", "filled", "failed")
    for f in report.fields:
        failed = _percent(f.failed, f.filled or report.rows) if f.failed else "0"
        table.add_row(
            Text(f.field),
            Text(f.role),
            _percent(f.seen, report.rows),
            _percent(f.filled, report.rows),
            failed,
        )
    out.print(table)
    for f in report.fields:
        for example in f.examples:
            # The file is the user's own: show the values (escaped), unlike HTTP.
            out.print(
                f"  {f.field} failed on {printable(example)}",
                soft_wrap=True,
                markup=False,
                highlight=False,
            )
    _print_problems(report.unreadable, [], 3)
    if what == "events":
        out.print(f"preview of {len(report.event_preview)} events:")
        for event in report.event_preview:
            shown = {
                "event_id": event.event_id,
                "type": event.type,
                "timestamp": event.timestamp.isoformat(),
                "identifiers": [f"{i.kind}:{i.value}" for i in event.identifiers],
                "properties": sorted(event.properties),
            }
            line = json.dumps(shown, ensure_ascii=False, default=str)
            out.print(line, soft_wrap=True, markup=False, highlight=False)
    else:
        out.print(f"preview of {len(report.preview)} records:")
    for record in report.preview:  # empty for events
        preview = {
            "key": record.key,
            "identifiers": [f"{i.kind}:{i.value}" for i in record.identifiers],
            "attributes": record.attributes,
            "timestamp": record.timestamp.isoformat() if record.timestamp else None,
        }
        line = json.dumps(preview, ensure_ascii=False, default=str)
        out.print(line, soft_wrap=True, markup=False, highlight=False)
    if report.never_seen:
        console.print(
            f"[red]never seen in {file.name}:[/] {', '.join(report.never_seen)} "
            "(check the column names or paths in the mapping)",
            highlight=False,
        )
        raise typer.Exit(1)


def _is_event_mapping(path: Path) -> bool:
    """An event mapping names an ``event_id``; a record mapping a ``key``. A file that does
    not read is left for the record mapping's loader to report."""
    try:
        doc = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return "event_id" in doc and "key" not in doc


@mapping_app.command("suggest")
def mapping_suggest(
    file: Annotated[Path, typer.Argument(help="A CSV or JSON Lines file (.gz too)")],
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the draft here (default: print it)")
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", "-s", help="Source name (default: the file's)")
    ] = None,
    rows: Annotated[
        int, typer.Option("--rows", min=1, help="Infer from at most this many rows")
    ] = 1_000,
    fmt: Annotated[str | None, typer.Option("--format", help="csv or jsonl")] = None,
    encoding: Annotated[str, typer.Option("--encoding", help="Text encoding")] = "utf-8",
    delimiter: Annotated[str, typer.Option("--delimiter", help="CSV delimiter")] = ",",
    events: Annotated[
        bool | None,
        typer.Option(
            "--events/--records",
            help="Draft an event mapping, or a record mapping (default: events when the "
            "file reads as an event log: an event id, a type, a timestamp)",
        ),
    ] = None,
    rules: RulesOption = None,
) -> None:
    """Draft a mapping TOML from FILE's content (e-mails, phones, dates, names, addresses,
    postcodes, countries, ids; the key a column unique in every row), with comments where
    the guess is unsure, for you to edit and then `idgraph mapping check`. An event log
    gets an event mapping (event id, type, timestamp, cookie and device ids)."""
    if (problem := encoding_problem(encoding)) is not None:
        raise typer.BadParameter(problem, param_hint="--encoding")
    if not file.exists():
        raise typer.BadParameter(f"no such file: {file}", param_hint="FILE")
    name = source or file.name.split(".")[0]
    try:
        kinds = _rules_of(rules).kinds
        read = read_file(file, fmt, csv_delimiter=delimiter, encoding=encoding)
        sample = [row for _, row in itertools.islice(read, rows) if isinstance(row, dict)]
    except IdgraphError as error:
        raise _fail(error) from None
    if events is None:
        events = looks_like_events(sample)
    if events:
        draft = suggest_event_mapping(sample, kinds).to_toml()
    else:
        draft = suggest_mapping(sample, name, kinds).to_toml()
    if out_file is None:
        out.print(draft, end="", soft_wrap=True, markup=False, highlight=False)
        return
    out_file.write_text(draft, "utf-8")
    console.print(
        f"wrote a draft mapping to {out_file}: edit it, then run "
        f"`idgraph mapping check {file} --mapping {out_file}`",
        highlight=False,
        soft_wrap=True,
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


@app.command()
def migrate(
    from_url: Annotated[
        str, typer.Option("--from", help="Store to copy: sqlite:///PATH or neo4j://HOST:7687")
    ],
    to_url: Annotated[
        str, typer.Option("--to", help="Store to copy into; must be empty unless --replace")
    ],
    replace: Annotated[
        bool,
        typer.Option("--replace", help="Delete everything in the target store before copying"),
    ] = False,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Rows per read and per write")
    ] = DEFAULT_BATCH_SIZE,
) -> None:
    """Copy a whole store into another (embedded to Neo4j, back, or to another file):
    source mappings, the match model, records, links, flags, profiles and their history,
    events, segments, the profile change log and the audit log."""
    from identity.store.factory import same_store, sqlite_path
    from service.config import Settings

    settings = Settings()
    try:
        if same_store(from_url, to_url, database=settings.neo4j_database):
            raise IdgraphError(f"--from and --to name the same store ({to_url}): nothing to do")
        if from_url.startswith("sqlite:"):
            path = sqlite_path(from_url)
            if isinstance(path, Path) and not path.is_file():
                raise IdgraphError(f"no store to copy at {path}: check the --from path")
        source = settings.open_store(from_url)
        try:
            target = settings.open_store(to_url)
            try:
                report = _migrate_with_progress(source, target, replace, batch_size)
            finally:
                target.close()
        finally:
            source.close()
    except IdgraphError as error:
        raise _fail(error) from error
    counts = report.counts
    console.print(
        f"copied {report.records:,} records ({report.match_rows:,} in the match index), "
        f"{report.links:,} links, {report.profiles:,} profile ids ({counts.profiles:,} live), "
        f"{report.identifier_flags:,} flagged identifiers, {report.events:,} events, "
        f"{report.segments:,} segments ({report.segment_changes:,} membership changes), "
        f"{report.profile_changes:,} profile changes, {report.audit_entries:,} audit entries, "
        f"{report.suppressions:,} suppression entries, {report.sources:,} source mappings and "
        f"{report.meta:,} metadata documents in "
        f"{report.seconds:.1f}s"
        + ("; the target's earlier contents were deleted" if report.replaced else ""),
        highlight=False,
        soft_wrap=True,
    )


def _migrate_with_progress(
    source: Store, target: Store, replace: bool, batch_size: int
) -> MigrationReport:
    with _progress_bars() as progress:
        tasks: dict[str, TaskID] = {}

        def advance(p: MigrationProgress) -> None:
            if p.stage not in tasks:
                tasks[p.stage] = progress.add_task(p.stage, total=p.total)
            progress.update(tasks[p.stage], completed=p.done, total=p.total)

        return migrate_store(
            source, target, replace=replace, batch_size=batch_size, progress=advance
        )


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option("--name", help="Who uses the token (shown in audit)")],
    scope: Annotated[
        list[str], typer.Option("--scope", help="Scope to grant (repeatable); 'admin' for all")
    ],
    tokens_file: Annotated[Path | None, typer.Option("--tokens-file")] = None,
    requests_per_second: Annotated[
        float | None,
        typer.Option(
            "--requests-per-second",
            help="The token's own rate limit (default: IDGRAPH_RATE_LIMIT_PER_SECOND)",
        ),
    ] = None,
) -> None:
    """Create an API token; prints it once (only its hash is stored)."""
    from service.auth import create_token
    from service.config import Settings

    path = tokens_file or Settings().tokens_file
    try:
        token = create_token(name, scope, path, requests_per_second)
    except ValueError as error:
        raise _fail(error) from error
    rate = f", {requests_per_second:g} requests/s" if requests_per_second is not None else ""
    console.print(f"created token '{name}' with scopes {', '.join(scope)}{rate} in {path}")
    out.print(token, soft_wrap=True, highlight=False)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: IDGRAPH_HOST or 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="Default: IDGRAPH_PORT or 8000")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="API processes serving the one store (default: IDGRAPH_WORKERS, else the "
            "number of cores)",
        ),
    ] = None,
) -> None:
    """Serve the HTTP and GraphQL API, in one process or several sharing the store."""
    import uvicorn
    from pydantic import ValidationError

    from service.app import create_app
    from service.config import Settings

    try:
        settings = Settings()
    except ValidationError as error:
        raise _fail(_settings_problem(error)) from None
    count = workers or settings.workers
    if count > 1:
        # Migrate the store once, before the workers open it, and fail here rather than
        # in every worker when it cannot be opened.
        try:
            settings.open_store().close()
        except IdgraphError as error:
            raise _fail(error) from error
    try:
        # The settings' files (a persisted query manifest) are checked here, once, with an
        # error a person reads, rather than as a traceback in each worker.
        create_app(settings)
    except IdgraphError as error:
        raise _fail(error) from error
    bind_host, bind_port = host or settings.host, port or settings.port
    plural = "process" if count == 1 else "processes"
    console.print(
        f"serving http://{bind_host}:{bind_port} with {count} worker {plural} "
        f"({settings.store.split(':', 1)[0]} store)",
        highlight=False,
        soft_wrap=True,
    )
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=bind_host,
        port=bind_port,
        workers=count,
        log_level="info",
        **_worker_healthcheck(),
    )


WORKER_HEALTHCHECK_SECONDS = 30
"""How long uvicorn waits for a worker to answer its health check before it kills and
replaces it: its default, 5 s, is less than a worker takes to start on a busy machine."""


def _worker_healthcheck() -> dict[str, Any]:
    import inspect

    import uvicorn

    # uvicorn 0.30 to 0.3x check workers with a fixed timeout and take no such setting.
    if "timeout_worker_healthcheck" in inspect.signature(uvicorn.Config).parameters:
        return {"timeout_worker_healthcheck": WORKER_HEALTHCHECK_SECONDS}
    return {}


def _settings_problem(error: Exception) -> ValueError:
    """A settings validation error in one line per setting, named as its variable."""
    from pydantic import ValidationError

    assert isinstance(error, ValidationError)
    problems = [
        f"IDGRAPH_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
        if e["loc"]
        else e["msg"]
        for e in error.errors()
    ]
    return ValueError("invalid settings: " + "; ".join(problems))


@app.command()
def demo(
    people: Annotated[int, typer.Option(help="How many people to generate")] = 3000,
    events: Annotated[
        int | None,
        typer.Option(help="How many events (default: 10 per person; 0 for none)"),
    ] = None,
    seed: Annotated[int, typer.Option(help="Generator seed")] = 7,
    out_dir: Annotated[Path, typer.Option("--out", help="Where to write the demo files")] = Path(
        "data/demo"
    ),
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API after loading")
    ] = False,
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Generate the demo data (with truth) and events, load them, define the demo
    segments, and optionally serve it all."""
    from datetime import UTC, datetime

    from identity.demo.generator import generate
    from identity.evaluation import load_assignment, pairwise
    from service.config import Settings

    settings = Settings()
    store_url = store or settings.store
    started = time.perf_counter()
    events = people * 10 if events is None else events
    console.print(
        f"generating {people:,} demo people and {events:,} events (seed {seed}) into {out_dir} ..."
    )
    # Events end now, so "in the last 30 days" finds the demo's recent behaviour.
    files = generate(out_dir, people=people, seed=seed, events=events, until=datetime.now(UTC))
    try:
        graph = settings.open_graph(store_url, rules)
        try:
            for mapping_path in sorted(files.mappings_dir.glob("*.toml")):
                graph.ingest.register_source(load_mapping(mapping_path, rules=graph.rules))
            for source, path in sorted(files.files.items()):
                mapping = graph.ingest.source(source)
                _ingest_files(graph, [path], _Reading.of(mapping), _Ingesting(source=source))
            truth = load_assignment(files.truth)
            deterministic = pairwise(_predicted(graph), truth)
            console.print(
                f"deterministic matching: pairwise precision {deterministic.precision:.4f}, "
                f"recall {deterministic.recall:.4f}"
            )
            if graph.matcher is not None:
                matcher = graph.matcher
                with console.status("training the match model and linking ..."):
                    matcher.train()
                    linked = matcher.link_all()
                console.print(
                    f"probabilistic matching: {linked.links:,} links, "
                    f"{linked.reviews:,} pairs for review"
                )
            if files.events_file is not None:
                _ingest_event_files(graph, [files.events_file])
            _define_demo_segments(graph)
            counts = graph.store.counts()
            scores = pairwise(_predicted(graph), truth)
            email = _demo_email(graph)
        finally:
            graph.close()
    except IdgraphError as error:
        raise _fail(error) from error
    console.print(
        f"loaded {counts.records:,} records into {counts.profiles:,} profiles "
        f"({counts.identifiers:,} identifiers) in {time.perf_counter() - started:.1f}s; "
        f"against the generator's truth: pairwise precision {scores.precision:.4f}, "
        f"recall {scores.recall:.4f}"
    )
    if serve_after:
        token = os.environ.get("IDGRAPH_DEV_TOKEN")
        if not token:
            from service.auth import create_token

            token = create_token("demo", ["admin"], settings.tokens_file)
        _print_demo_help(settings.host, settings.port, token, email)
        serve(None, None)


def _define_demo_segments(graph: IdentityGraph) -> None:
    from importlib import resources

    folder = resources.files("identity.demo") / "segments"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            name = entry.name.removesuffix(".json")
            document = json.loads(entry.read_text("utf-8"))
            segment = graph.segments.define(name, document, actor=cli_actor())
            console.print(f"segment [bold]{name}[/]: {segment.size:,} members")


def _predicted(graph: IdentityGraph) -> dict[tuple[str, str], str | None]:
    return {(ref.source, ref.key): pid for ref, pid in graph.store.records.scan_profiles()}


def _demo_email(graph: IdentityGraph) -> str | None:
    """An e-mail of a demo person whose profile has records from the most sources."""
    best: tuple[int, str] | None = None
    ids = list(itertools.islice(graph.store.profiles.scan_ids(), 2000))
    for start in range(0, len(ids), 250):
        for profile in graph.profiles.get_many(ids[start : start + 250]):
            if profile is None:
                continue
            sources = {r.record.source for r in profile.records}
            emails = [i for i in profile.identifiers if i.kind == "email" and i.links]
            if emails and (best is None or len(sources) > best[0]):
                best = (len(sources), emails[0].value)
        if best is not None and best[0] >= 4:
            break
    return best[1] if best else None


def _print_demo_help(host: str, port: int, token: str, email: str | None) -> None:
    base = f"http://{host}:{port}"
    query = (
        '{ profileByIdentifier(kind: "email", value: '
        + json.dumps(email or "someone@example.com")
        + ") { id records { source key } attributes { name value provenance { source } }"
        " traits { orders monetary lastSeen } segments"
        " journey(first: 5) { nodes { type timestamp channel } } } }"
    )
    body = shlex.quote(json.dumps({"query": query}))
    console.print(
        "\n[bold green]idgraph demo is ready[/]\n"
        f"  GraphiQL:  {base}/graphql  (add the header "
        f'{{"Authorization": "Bearer {token}"}})\n'
        f"  API token: {token}\n"
        f"  Try:\n    curl -s {base}/graphql -H 'Authorization: Bearer {token}' "
        f"-H 'Content-Type: application/json' \\\n      -d {body}\n"
        f"  A segment:\n    curl -s '{base}/v1/segments/lapsed-readers/members?format=csv"
        f"&fields=profile_id,email,first_name,traits.last_seen' "
        f"-H 'Authorization: Bearer {token}'\n",
        highlight=False,
        soft_wrap=True,
    )
    sys.stderr.flush()


# Commands in their own modules register on the app when imported.
from service.cli import privacy as _privacy  # noqa: E402, F401


def main() -> None:
    app()


if __name__ == "__main__":
    main()
