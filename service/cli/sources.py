"""Sources and their mappings on the command line: register and list them, check a
mapping against a file, draft one from it."""

from __future__ import annotations

import itertools
import json
import tomllib
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from identity.errors import (
    IdgraphError,
)
from identity.events import EventParser
from identity.limits import printable
from identity.mapping import RecordMapper, encoding_problem, load_mapping
from identity.mapping.check import MappingCheck, check_event_mapping, check_mapping
from identity.mapping.events import EventRowMapper, load_event_mapping
from identity.mapping.suggest import looks_like_events, suggest_event_mapping, suggest_mapping
from identity.normalise import Normaliser
from identity.readers import read_file
from identity.rules import Rules, load_rules
from service.cli.common import (
    RulesOption,
    StoreOption,
    _fail,
    _opened,
    console,
    mapping_app,
    out,
    sources_app,
)
from service.cli.ingest import Reading, print_problems


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
            reading = Reading.of(loaded, fmt, encoding)
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
    print_problems(report.unreadable, [], 3)
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
