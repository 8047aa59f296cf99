"""Ingesting files on the command line: records (`idgraph ingest`) and events
(`idgraph ingest-events`), with progress bars, per-row problems and a report."""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.progress import Progress, TaskID

from identity.errors import (
    IdgraphError,
    InvalidPayload,
    RowProblem,
)
from identity.events import EventIngestReport
from identity.graph import IdentityGraph
from identity.ingest import IngestProgress, IngestReport, Row
from identity.limits import printable
from identity.mapping import SourceMapping, encoding_problem, load_mapping
from identity.mapping.events import EventMapping, EventRowMapper, load_event_mapping
from identity.readers import check_file, read_file
from service.cli.common import (
    RulesOption,
    StoreOption,
    _cli_hint,
    _opened,
    _progress_bars,
    app,
    cli_actor,
    console,
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


def print_problems(errors: list[RowProblem], warnings: list[RowProblem], shown: int) -> None:
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
    _print_suppressed(report.suppressed, "records")
    print_problems(report.errors, report.warnings, errors_shown)


@dataclasses.dataclass(frozen=True, slots=True)
class Reading:
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
    ) -> Reading:
        return cls(
            fmt or mapping.format,
            mapping.csv_delimiter,
            encoding or mapping.encoding,
            allow_multiline or mapping.allow_multiline,
        )


@dataclasses.dataclass(slots=True)
class Ingesting:
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


def _write_problems(path: Path, done: Ingesting, failure: BaseException | None) -> None:
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


def _check_files(files: list[Path], reading: Reading, done: Ingesting) -> dict[Path, int]:
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


@dataclasses.dataclass(frozen=True, slots=True)
class Loading:
    """How an ``ingest`` command loads: incrementally or in bulk, and with what."""

    bulk: bool | None = None
    """True/False: the option given; None: bulk from :data:`BULK_ROWS` rows on."""
    workers: int | None = None
    """Mapping processes of the bulk path (None: one per core but one)."""
    defer: bool = False
    """Leave a bulk load's new records for a later ingest or `idgraph resolve`."""

    def bulk_for(self, rows: int) -> bool:
        return self.bulk if self.bulk is not None else rows >= BULK_ROWS


BULK_ROWS = 100_000
"""Rows (of all files of one command) from which ``ingest`` takes the bulk path."""


def ingest_files(
    graph: IdentityGraph,
    files: list[Path],
    reading: Reading,
    done: Ingesting,
    register: SourceMapping | None = None,
    quiet: bool = False,
    loading: Loading | None = None,
) -> None:
    """Check every file (:func:`_check_files`), register the mapping when asked, then load
    the files one by one; in bulk when ``loading`` says so (docs/scale.md)."""
    loading = loading or Loading(bulk=False)
    source = done.source
    totals = _check_files(files, reading, done)
    bulk = loading.bulk_for(sum(totals.values()))
    if register is not None:
        graph.ingest.register_source(register)
        done.stored = True
    if bulk and loading.workers is not None:
        graph.bulk.workers = loading.workers
    for number, path in enumerate(files, start=1):
        done.current = path
        # A bulk command resolves once, after its last file.
        defer = loading.defer or number < len(files)
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
            if bulk:
                report = graph.bulk.ingest_rows(
                    source,
                    rows,
                    progress=advance,
                    actor=cli_actor(),
                    resolving=_phase(progress, "resolving new records"),
                    viewing=_phase(progress, "read model"),
                    defer=defer,
                )
            else:
                report = graph.ingest.ingest_rows(source, rows, progress=advance, actor=cli_actor())
            progress.update(task, completed=report.received, total=report.received)
        done.loaded.append((path, report))
        _print_report(report)
    done.current = None
    if loading.defer and bulk:
        console.print(
            "new records are stored without profiles until `idgraph resolve` "
            "(or an ingest without --defer-resolution) resolves them"
        )
    elif graph.bulk.pending():
        # Records an earlier deferred or stopped bulk load left: resolved now.
        with _progress_bars(disable=quiet) as progress:
            graph.bulk.resolve_pending(
                _phase(progress, "resolving pending records"),
                _phase(progress, "read model"),
                actor=cli_actor(),
            )


def _phase(progress: Progress, name: str) -> Callable[[int, int], None]:
    """A progress callback of (done, total) that adds its bar at the first call."""
    task: TaskID | None = None

    def update(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            task = progress.add_task(name, total=total)
        progress.update(task, completed=done, total=total)

    return update


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
    bulk: Annotated[
        bool | None,
        typer.Option(
            "--bulk/--no-bulk",
            help=f"Map rows in worker processes and resolve new records once, at the end "
            f"(default: from {BULK_ROWS:,} rows on)",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", min=0, help="Mapping processes of a bulk load (default: cores - 1)"
        ),
    ] = None,
    defer_resolution: Annotated[
        bool,
        typer.Option(
            "--defer-resolution",
            help="Bulk: store the records, resolve them later with `idgraph resolve` or the "
            "next ingest (load several sources, then resolve once)",
        ),
    ] = False,
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Load records from files into the store and resolve their profiles.

    Every file is read once first: one that cannot be read whole (not text in its
    encoding, a CSV whose layout is broken) stops the command before anything is stored.
    Large inputs take the bulk path (docs/scale.md): the result is the same profiles.
    """
    if defer_resolution and bulk is False:
        raise typer.BadParameter("--defer-resolution is for bulk loads: drop --no-bulk")
    if source is None and mapping is None:
        raise typer.BadParameter("give --source NAME (registered) or --mapping FILE")
    if encoding is not None and (problem := encoding_problem(encoding)) is not None:
        raise typer.BadParameter(problem, param_hint="--encoding")
    done = Ingesting(source=source or "")
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
                reading = Reading.of(settings, fmt, encoding, allow_multiline)
                loading = Loading(True if defer_resolution else bulk, workers, defer_resolution)
                ingest_files(graph, files, reading, done, register=loaded, loading=loading)
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


@app.command()
def resolve(store: StoreOption = None, rules: RulesOption = None) -> None:
    """Resolve the records bulk loads stored without a profile: those of loads run with
    --defer-resolution, or of a load that stopped before its end (docs/scale.md)."""
    with _opened(store, rules) as graph:
        if not graph.bulk.pending():
            console.print("nothing to resolve: every stored record has its profile")
            return
        with _progress_bars() as progress:
            report = graph.bulk.resolve_pending(
                _phase(progress, "resolving pending records"),
                _phase(progress, "read model"),
                actor=cli_actor(),
            )
    console.print(
        f"resolved: profiles +{report.profiles_created:,} created, "
        f"{report.profiles_merged:,} merged, {report.profiles_split:,} split; "
        f"{report.seconds:.1f}s",
        highlight=False,
    )


def _print_refusal(failure: BaseException | None, done: Ingesting) -> None:
    """After the error line, which names the first row at fault: its excerpt, every other
    row at fault, and whether anything was stored."""
    if isinstance(failure, InvalidPayload) and failure.problems:
        first, *others = failure.problems
        if first.value is not None:
            console.print(f"  the text at fault: {first.value!r}", highlight=False, markup=False)
        print_problems(others, [], 9)
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
    _print_suppressed(report.suppressed, "events")
    print_problems(report.errors, report.warnings, errors_shown)


def _print_suppressed(count: int, what: str) -> None:
    if count:
        console.print(
            f"  {count:,} {what} of erased people dropped, not stored (the suppression list: "
            "docs/privacy.md)",
            highlight=False,
        )


def ingest_event_files(
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
        ingest_event_files(graph, files, mapping=loaded)
