"""The profile read model on the command line: rebuild it, or check it against a
recomputation (docs/activation.md, "The profile read model")."""

from __future__ import annotations

from typing import Annotated

import typer

from identity.profile_view_workers import ViewWorkers
from service.cli.common import RulesOption, StoreOption, _opened, _progress_bars, app, console

profiles_app = typer.Typer(
    help="The profile read model that segments, exports and GraphQL read (docs/activation.md).",
    no_args_is_help=True,
)
app.add_typer(profiles_app, name="profiles")

SHOWN = 20
"""Differences printed by --check-only (all are counted)."""


@profiles_app.command("rebuild")
def rebuild(
    check_only: Annotated[
        bool,
        typer.Option(
            "--check-only",
            help="Compare the stored rows with a recomputation and list the differences; "
            "change nothing. Exits 1 when any differ.",
        ),
    ] = False,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, max=10_000, help="Profiles per transaction")
    ] = 500,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=0,
            help="Compute rows in this many processes (0: in this one). Faster on several "
            "cores, but a write landing while its profile's batch is in flight can leave "
            "that row stale: use it while nothing else writes",
        ),
    ] = 0,
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Recompute every live profile's row of the read model from its records and events.

    Needed after an upgrade that adds the read model to a store with data, or after a
    change to the rules it depends on (survivorship, [events], identifier kinds, the
    blocklist); until then reads recompute each profile, correct but slow. Safe while the
    service runs: each batch is its own transaction."""
    with _opened(store, rules) as graph:
        views = graph.views
        total = graph.store.counts().profiles
        with _progress_bars() as bars:
            task = bars.add_task("checking" if check_only else "rebuilding", total=total)

            def progress(done: int) -> None:
                bars.update(task, completed=done)

            if check_only:
                differences = views.check(batch_size, progress=progress)
            elif workers and graph.opener is not None:
                with ViewWorkers(graph.opener, graph.rules, workers) as pool:
                    report = views.rebuild(batch_size, progress=progress, workers=pool)
            else:
                report = views.rebuild(batch_size, progress=progress)
    if not check_only:
        console.print(
            f"rebuilt the read model of {report.profiles:,} profiles: {report.written:,} rows "
            f"written, {report.deleted:,} rows of profiles no longer live deleted, in "
            f"{report.seconds:.1f}s",
            highlight=False,
        )
        return
    if not differences:
        console.print(f"the read model of {total:,} profiles equals a recomputation")
        return
    profiles = len({d.profile_id for d in differences})
    console.print(
        f"[bold red]{len(differences):,} differences[/] in {profiles:,} profiles "
        "(run `idgraph profiles rebuild`):",
        highlight=False,
    )
    for d in differences[:SHOWN]:
        console.print(
            f"  {d.profile_id} {d.column}: stored {d.stored!r}, recomputed {d.recomputed!r}",
            highlight=False,
            soft_wrap=True,
        )
    raise typer.Exit(code=1)
