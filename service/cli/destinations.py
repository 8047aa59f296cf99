"""Destinations on the command line: register a webhook or a folder for a segment, watch
its delivery, replay its dead letters, and run the delivery worker (docs/activation.md)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from identity.destinations import DeliveryWorker, DestinationSettings, DestinationView, RunReport
from identity.destinations.model import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_BATCH_BYTES,
    DEFAULT_TIMEOUT_SECONDS,
)
from service.cli.common import RulesOption, StoreOption, _opened, app, cli_actor, console, out
from service.webhooks import wire

destinations_app = typer.Typer(
    help="Push segment changes to webhooks and folders (docs/activation.md).",
    no_args_is_help=True,
)
app.add_typer(destinations_app, name="destinations")

NameArgument = Annotated[str, typer.Argument(help="The destination's name")]


def _refuse(option: str, given: object, problem: str) -> typer.Exit:
    console.print(
        f"[bold red]error:[/] {option} {given!r}: {problem}", soft_wrap=True, highlight=False
    )
    return typer.Exit(code=2)


def _fields(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [f.strip() for f in text.split(",") if f.strip()]


@destinations_app.command("add")
def add(
    name: NameArgument,
    segment: Annotated[str, typer.Option("--segment", help="The segment whose changes go")],
    webhook: Annotated[
        str | None, typer.Option("--webhook", help="POST signed NDJSON batches to this URL")
    ] = None,
    folder: Annotated[
        str | None, typer.Option("--folder", help="Write snapshot and delta files here")
    ] = None,
    format: Annotated[
        str, typer.Option("--format", help="Files as csv or parquet (needs idgraph[parquet])")
    ] = "csv",
    fields: Annotated[
        str | None,
        typer.Option(
            "--fields", help="Comma-separated fields of entered rows (default: profile_id)"
        ),
    ] = None,
    start: Annotated[
        str,
        typer.Option(
            "--start", help="snapshot: every member first, then changes; now: changes only"
        ),
    ] = "snapshot",
    batch_size: Annotated[int, typer.Option("--batch-size", help="Rows per batch")] = (
        DEFAULT_BATCH_SIZE
    ),
    max_batch_bytes: Annotated[
        int,
        typer.Option(
            "--max-batch-bytes",
            help="A batch closes before its NDJSON body passes this many bytes (a larger "
            "row goes alone)",
        ),
    ] = DEFAULT_MAX_BATCH_BYTES,
    snapshot_every: Annotated[
        float | None,
        typer.Option(
            "--snapshot-every",
            help="HOURS: a folder gets a new full snapshot this often beside its deltas "
            "(default: one snapshot, at the start)",
        ),
    ] = None,
    requires_consent: Annotated[
        str | None,
        typer.Option(
            "--requires-consent",
            help="A purpose: entered profiles without that consent are sent as exited",
        ),
    ] = None,
    max_attempts: Annotated[
        int, typer.Option("--max-attempts", help="Tries before a batch is dead-lettered")
    ] = DEFAULT_MAX_ATTEMPTS,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for the webhook's answer")
    ] = DEFAULT_TIMEOUT_SECONDS,
    secret_env: Annotated[
        str | None,
        typer.Option(
            "--secret-env",
            help="Read the signing secret from this environment variable instead of "
            "generating one and keeping it in the store",
        ),
    ] = None,
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Register a destination. A webhook's signing secret is printed once: keep it."""
    if (webhook is None) == (folder is None):
        raise _refuse("--webhook / --folder", None, "give exactly one")
    with _opened(store, rules) as graph:
        settings = DestinationSettings(
            name,
            segment,
            url=webhook,
            folder=str(Path(folder).resolve()) if folder is not None else None,
            format=format,
            fields=_fields(fields) or ["profile_id"],
            batch_size=batch_size,
            max_batch_bytes=max_batch_bytes,
            snapshot_every_hours=snapshot_every,
            requires_consent=requires_consent,
            start=start,
            max_attempts=max_attempts,
            timeout_seconds=timeout,
            secret_env=secret_env,
        )
        added = graph.destinations.add(settings, actor=cli_actor())
    d = added.destination
    where = d.url or d.folder
    console.print(f"destination {d.name}: segment {d.segment} -> {where}", highlight=False)
    if added.secret is not None:
        console.print("signing secret (shown once; verify Idgraph-Signature with it):")
        out.print(added.secret, highlight=False, soft_wrap=True)


def _state_line(view: DestinationView) -> str:
    if view.status == "retrying":
        return f"retrying ({view.state.attempts} failed)"
    return view.status


@destinations_app.command("list")
def list_(store: StoreOption = None, rules: RulesOption = None) -> None:
    """Every destination: its segment, where it goes, its state, lag and dead letters."""
    with _opened(store, rules) as graph:
        views = graph.destinations.views()
    table = Table("name", "segment", "to", "state", "lag", "delivered", "dead")
    stopped = [v for v in views if v.problem is not None]
    for v in views:
        table.add_row(
            v.destination.name,
            v.destination.segment,
            v.destination.url or v.destination.folder or "",
            _state_line(v),
            f"{v.lag:,}",
            f"{v.state.delivered_rows:,}",
            str(len(v.dead_letters)),
        )
    out.print(table)
    for v in stopped:
        console.print(
            f"[bold red]stopped:[/] {v.destination.name}: {v.problem}",
            soft_wrap=True,
            highlight=False,
        )


@destinations_app.command("show")
def show(
    name: NameArgument,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document")] = False,
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """A destination's config, delivery state, lag and dead letters (never its secret)."""
    with _opened(store, rules) as graph:
        (view,) = graph.destinations.views([name])
    d, s = view.destination, view.state
    doc = {
        "name": d.name,
        "segment": d.segment,
        "kind": d.kind,
        "config": d.config(),
        "paused": d.paused,
        "state": _state_line(view),
        "stopped": {
            "reason": s.stopped,
            "at": s.stopped_at.isoformat() if s.stopped_at else None,
            "message": view.problem,
        }
        if s.stopped is not None
        else None,
        "cursor_seq": s.cursor_seq,
        "lag": view.lag,
        "snapshot": {"seq": s.snapshot_seq, "after": s.snapshot_after}
        if s.snapshot_after is not None
        else None,
        "last_snapshot_at": s.snapshot_at.isoformat() if s.snapshot_at else None,
        "attempts": s.attempts,
        "next_attempt_at": s.next_attempt_at.isoformat() if s.next_attempt_at else None,
        "last_error": s.last_error,
        "delivered_batches": s.delivered_batches,
        "delivered_rows": s.delivered_rows,
        "last_delivered_at": s.last_delivered_at.isoformat() if s.last_delivered_at else None,
        "lease": {"owner": s.lease_owner, "until": s.lease_until.isoformat()}
        if s.lease_owner and s.lease_until
        else None,
        "dead_letters": [
            {
                "id": letter.id,
                "kind": letter.kind,
                "from_seq": letter.from_seq,
                "to_seq": letter.to_seq,
                "attempts": letter.attempts,
                "last_status": letter.last_status,
                "last_error": letter.last_error,
                "at": letter.at.isoformat(),
            }
            for letter in view.dead_letters
        ],
    }
    if as_json:
        out.print_json(json.dumps(doc))
        return
    for key, value in doc.items():
        if key != "dead_letters":
            out.print(
                f"{key}: {json.dumps(value) if isinstance(value, dict) else value}", highlight=False
            )
    table = Table("id", "kind", "range", "attempts", "last error", "at")
    for letter in view.dead_letters:
        table.add_row(
            str(letter.id),
            letter.kind,
            f"{letter.from_seq}-{letter.to_seq}",
            str(letter.attempts),
            letter.last_error or "",
            letter.at.isoformat(timespec="seconds"),
        )
    out.print(f"dead letters: {len(view.dead_letters)}")
    if view.dead_letters:
        out.print(table)


@destinations_app.command("pause")
def pause(name: NameArgument, store: StoreOption = None, rules: RulesOption = None) -> None:
    """Stop delivering; changes wait in the feed and go out on resume."""
    with _opened(store, rules) as graph:
        graph.destinations.set_paused(name, True, actor=cli_actor())
    console.print(f"destination {name} paused", highlight=False)


@destinations_app.command("resume")
def resume(name: NameArgument, store: StoreOption = None, rules: RulesOption = None) -> None:
    """Deliver again, from where it stopped. A destination stopped because its segment
    was deleted starts over with a new snapshot once the segment is defined again."""
    with _opened(store, rules) as graph:
        graph.destinations.set_paused(name, False, actor=cli_actor())
    console.print(f"destination {name} resumed", highlight=False)


@destinations_app.command("remove")
def remove(name: NameArgument, store: StoreOption = None, rules: RulesOption = None) -> None:
    """Delete a destination with its state and dead letters. Audited."""
    with _opened(store, rules) as graph:
        if not graph.destinations.remove(name, actor=cli_actor()):
            raise _refuse("NAME", name, "no destination of that name")
    console.print(f"destination {name} removed", highlight=False)


@destinations_app.command("replay")
def replay(
    name: NameArgument,
    all_: Annotated[
        bool, typer.Option("--all", help="Every dead letter of the destination")
    ] = False,
    ids: Annotated[
        list[int] | None, typer.Option("--id", help="A dead letter's id (from show)")
    ] = None,
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Send dead letters again, rebuilt with current fields under their original cursor
    and idempotency key. Audited. Exit code 1 when one still fails."""
    if all_ == bool(ids):
        raise _refuse("--all / --id", None, "give --all or at least one --id")
    with _opened(store, rules) as graph:
        transport = wire(graph)
        try:
            done = graph.destinations.replay(name, None if all_ else ids, actor=cli_actor())
        finally:
            transport.close()
    failed = [r for r in done if not r.outcome.delivered]
    for r in done:
        verdict = "delivered" if r.outcome.delivered else f"failed: {r.outcome.error}"
        console.print(f"dead letter {r.letter.id}: {verdict}", highlight=False)
    console.print(f"{len(done) - len(failed)} replayed, {len(failed)} failed", highlight=False)
    if failed:
        raise typer.Exit(code=1)


@destinations_app.command("run")
def run(
    once: Annotated[
        bool,
        typer.Option(
            "--once", help="Deliver what is pending now, then stop (retries not waited for)"
        ),
    ] = False,
    idle: Annotated[
        float, typer.Option("--idle", help="Seconds between looks at the feed when idle")
    ] = 1.0,
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Run the delivery worker (as `idgraph serve` does unless IDGRAPH_DESTINATIONS=off);
    workers share each destination through a lease, so one delivers it at a time."""

    def progress(report: RunReport) -> None:
        for destination, rows in sorted(report.delivered.items()):
            console.print(f"{destination}: {rows:,} rows delivered", highlight=False)
        if report.dead:
            console.print(f"{report.dead} batch(es) dead-lettered", highlight=False)

    with _opened(store, rules) as graph:
        transport = wire(graph)
        worker = DeliveryWorker(graph.destinations)
        try:
            if once:
                total = worker.run_until_idle(progress)
                worker.release()
                waiting = (
                    f"; a retry is due at {total.next_due.isoformat(timespec='seconds')}"
                    if total.next_due
                    else ""
                )
                console.print(
                    f"{total.batches} batches, {total.rows:,} rows delivered, "
                    f"{total.dead} dead-lettered{waiting}",
                    highlight=False,
                )
                return
            stop = threading.Event()
            console.print("delivering; Ctrl-C stops", highlight=False)
            try:
                worker.run_forever(stop, idle, progress)
            except KeyboardInterrupt:
                stop.set()
        finally:
            transport.close()


__all__ = ["destinations_app"]
