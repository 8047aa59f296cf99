"""`idgraph migrate`: copy a whole store into another (docs/operations.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import TaskID

from identity.errors import (
    IdgraphError,
)
from identity.migration import DEFAULT_BATCH_SIZE, MigrationProgress, MigrationReport, migrate_store
from identity.store.base import Store
from service.cli.common import (
    _fail,
    _progress_bars,
    app,
    console,
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
    events, segments, the profile change log, the audit log and the suppression list."""
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
        f"{report.suppressions:,} suppression entries, {report.destinations:,} destinations, "
        f"{report.households:,} households, "
        f"{report.sources:,} source mappings and "
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
