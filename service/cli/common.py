"""What every command of the CLI shares: the app and its command groups, the consoles, the
store and rules options, and opening the graph a command works on."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from identity.errors import IdgraphError, UnknownSource
from identity.graph import IdentityGraph

app = typer.Typer(
    name="idgraph",
    help="Identity resolution: ingest source records, resolve profiles, serve them over GraphQL.",
    no_args_is_help=True,
    add_completion=False,
)
sources_app = typer.Typer(help="Register and list source mappings.", no_args_is_help=True)
segments_app = typer.Typer(
    help="Define, list, refresh and delete segments (docs/segments.md).", no_args_is_help=True
)
token_app = typer.Typer(help="Create API tokens.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")
app.add_typer(token_app, name="token")
app.add_typer(segments_app, name="segments")
mapping_app = typer.Typer(
    help="Check a mapping against a file, or draft one from it (docs/sources.md).",
    no_args_is_help=True,
)
app.add_typer(mapping_app, name="mapping")

console = Console(stderr=True)
out = Console()

StoreOption = Annotated[
    str | None,
    typer.Option("--store", help="Store URL (default: IDGRAPH_STORE or sqlite:///data/idgraph.db)"),
]
RulesOption = Annotated[
    Path | None,
    typer.Option(
        "--rules",
        help="Rules file (default: IDGRAPH_RULES, else the rules the store was last rebased "
        "to by `idgraph rules apply`, else the packaged ones)",
    ),
]


def _open(store: str | None, rules: Path | None) -> IdentityGraph:
    from service.config import Settings

    return Settings().open_graph(store, rules)


def cli_actor() -> str:
    """Who the audit log names for work done on the command line."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@contextmanager
def _opened(store: str | None, rules: Path | None) -> Iterator[IdentityGraph]:
    """The graph one command works on, closed after it; a domain error ends the command
    with its message and exit code 2."""
    try:
        graph = _open(store, rules)
        try:
            yield graph
        finally:
            graph.close()
    except IdgraphError as error:
        raise _fail(error) from error


def _fail(error: Exception) -> typer.Exit:
    # Escaped: an error's text is not markup (`idgraph[spark]` would lose its brackets).
    message = escape(f"{error}{_cli_hint(error)}")
    console.print(f"[bold red]error:[/] {message}", soft_wrap=True, highlight=False)
    return typer.Exit(code=2)


def _cli_hint(error: BaseException) -> str:
    """What to do about a domain error, said in this command line's terms."""
    if isinstance(error, UnknownSource):
        return ": register one with `idgraph sources add MAPPING.toml`, or pass --mapping"
    return ""


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "", style="cyan")


def _progress_bars(disable: bool = False) -> Progress:
    """The CLI's progress display: description, bar, done/total, rate, elapsed."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=disable,
    )
