"""Privacy operations on the command line: erasure, suppression, access requests and
retention (docs/privacy.md)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from identity.errors import (
    AmbiguousIdentifier,
    InvalidArgument,
    InvalidIdentifier,
    NoProfileWithIdentifier,
    UnknownIdentifierKind,
    UnknownProfile,
)
from service.cli.common import (
    RulesOption,
    StoreOption,
    _opened,
    _progress_bars,
    app,
    cli_actor,
    console,
    out,
)

# -- access requests --------------------------------------------------------------------------


def _refuse(option: str, given: str | None, problem: str) -> typer.Exit:
    """End the command naming the option and the value at fault (the caller's own)."""
    value = f" {given!r}" if given is not None else ""
    console.print(
        f"[bold red]error:[/] {option}{value}: {problem}", soft_wrap=True, highlight=False
    )
    return typer.Exit(code=2)


def _identifier(text: str) -> tuple[str, str]:
    """KIND:VALUE split at the first colon (a value may hold colons of its own)."""
    kind, colon, value = text.partition(":")
    if not colon or not kind.strip() or not value.strip():
        raise _refuse(
            "--identifier",
            text,
            "not KIND:VALUE (e.g. email:ann@example.com, phone:+447400123456)",
        )
    return kind.strip(), value


class _PrivateFile:
    """The file the document goes to, readable by its owner alone (it holds one person's
    data, unmasked). Written beside the target and renamed over it when complete, so a
    failed export leaves no file; made before the export, so an unwritable path is refused
    before anything is read or audited."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
        self.temporary = Path(name)
        self.handle = os.fdopen(fd, "w", encoding="utf-8")

    def commit(self, text: str) -> None:
        with self.handle:
            self.handle.write(text)
        os.replace(self.temporary, self.path)

    def discard(self) -> None:
        self.handle.close()
        self.temporary.unlink(missing_ok=True)


@app.command("export-person")
def export_person(
    out_file: Annotated[
        str, typer.Option("--out", "-o", help="JSON file to write ('-' for stdout)")
    ],
    identifier: Annotated[
        str | None,
        typer.Option(
            "--identifier",
            help="The person's identifier as KIND:VALUE (email:ann@example.com, "
            "phone:+447400123456), normalised as at ingest",
        ),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option("--profile", help="A profile id (a merged id gives its survivor)"),
    ] = None,
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Everything held about one person as one JSON document (an access request, GDPR
    Art. 15; docs/privacy.md). Give exactly one of --identifier or --profile. Audited."""
    if (identifier is None) == (profile is None):
        raise _refuse(
            "--identifier / --profile",
            None,
            "give exactly one of --identifier KIND:VALUE or --profile ID",
        )
    asked = _identifier(identifier) if identifier is not None else None
    option, given = (
        ("--identifier", identifier) if identifier is not None else ("--profile", profile)
    )
    target: _PrivateFile | None = None
    if out_file != "-":
        try:
            target = _PrivateFile(Path(out_file))
        except OSError as error:
            raise _refuse("--out", out_file, error.strerror or str(error)) from None
    try:
        with _opened(store, rules) as graph:
            try:
                document = graph.person_data.export(
                    cli_actor(), identifier=asked, profile_id=profile
                )
            except AmbiguousIdentifier as error:
                raise _refuse(
                    option,
                    given,
                    f"this {error.kind} belongs to {error.count} profiles; export each with "
                    "--profile ID (`idgraph export-profiles` lists every record's profile)",
                ) from None
            except (InvalidArgument, InvalidIdentifier, UnknownProfile) as error:
                raise _refuse(option, given, str(error)) from None
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        if target is None:
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            target.commit(text)
    except BaseException:
        if target is not None:
            target.discard()
        raise
    profiles = ", ".join(str(p["id"]) for p in document["profiles"])
    where = "stdout" if out_file == "-" else out_file
    console.print(f"wrote the access export of profile {profiles} to {where}", highlight=False)


# -- erasure --------------------------------------------------------------------------------

suppression_app = typer.Typer(
    help="The suppression list of erased identifiers and records (docs/privacy.md).",
    no_args_is_help=True,
)
retention_app = typer.Typer(
    help="Delete records and events past their retention period (docs/privacy.md).",
    no_args_is_help=True,
)
app.add_typer(suppression_app, name="suppression")
app.add_typer(retention_app, name="retention")

IdentifiersOption = Annotated[
    list[str] | None,
    typer.Option(
        "--identifier",
        help="The person's identifier as KIND:VALUE (email:ann@example.com); repeat for "
        "each one the request gives",
    ),
]
ReasonOption = Annotated[
    str, typer.Option("--reason", help="Why: the request it answers (kept in the audit log)")
]


def _reason(reason: str) -> str:
    """The reason given, refused when blank (before anything is read)."""
    if not reason.strip():
        raise _refuse("--reason", reason, "give the request or ticket this answers")
    return reason


def _refusal(error: Exception, identifiers: list[str], profiles: list[str]) -> typer.Exit:
    """A domain refusal in this command line's terms, naming the option and value at fault."""

    def given(kind: str) -> str | None:
        return next((i for i in identifiers if i.strip().startswith(f"{kind}:")), None)

    if isinstance(error, AmbiguousIdentifier):
        return _refuse(
            "--identifier",
            given(error.kind),
            f"this {error.kind} belongs to {error.count} profiles; name each with --profile ID",
        )
    if isinstance(error, NoProfileWithIdentifier):
        return _refuse("--identifier", given(error.kind), "no profile holds it")
    if isinstance(error, UnknownProfile):
        return _refuse("--profile", error.profile_id, "no such profile")
    if isinstance(error, InvalidIdentifier):
        return _refuse("--identifier", given(error.kind), error.problem)
    if isinstance(error, UnknownIdentifierKind):
        return _refuse("--identifier", given(error.kind), str(error))
    # The one argument left to refuse: the commands check that something is named.
    return _refuse("--reason", None, str(error))


@app.command("erase")
def erase(
    reason: ReasonOption,
    identifier: IdentifiersOption = None,
    profile: Annotated[
        list[str] | None,
        typer.Option("--profile", help="A profile id of the person; repeat for several"),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Erase a person everywhere (GDPR Art. 17): every record, event, link and segment
    membership of the profiles the identifiers and profile ids name, for good. Their
    identifiers and records go on the suppression list, so the next load does not bring
    them back. Not undoable. Audited with hashes, never values."""
    _reason(reason)
    identifiers = identifier or []
    profiles = profile or []
    named = [_identifier(text) for text in identifiers]
    if not named and not profiles:
        raise _refuse("--identifier / --profile", None, "name the person by at least one")
    with _opened(store, rules) as graph:
        try:
            pids = graph.erasure.people(named, profiles)
            records = graph.store.profiles.records_of(pids)
            events = graph.store.events.of_profiles(pids)
        except (AmbiguousIdentifier, UnknownProfile, InvalidIdentifier, InvalidArgument) as error:
            raise _refusal(error, identifiers, profiles) from None
        total = sum(len(r) for r in records.values())
        count = sum(len(e) for e in events.values())
        console.print(
            f"to erase: profile {', '.join(pids)} with {total:,} records and {count:,} events",
            highlight=False,
        )
        if not yes:
            if not sys.stdin.isatty():
                raise _refuse("--yes", None, "erasing cannot be undone: confirm it with --yes")
            typer.confirm("Erase them for good?", abort=True)
        try:
            report = graph.erasure.erase(cli_actor(), reason, named, profiles)
        except (AmbiguousIdentifier, UnknownProfile, InvalidIdentifier, InvalidArgument) as error:
            raise _refusal(error, identifiers, profiles) from None
    console.print(
        f"[bold green]erased[/] profile {', '.join(report.profile_ids)}: {report.records:,} "
        f"records, {report.events:,} events; {report.suppressed:,} entries on the suppression "
        f"list; audit entry {report.audit_id}",
        highlight=False,
    )


@app.command("remove-identifier")
def remove_identifier(
    profile: Annotated[str, typer.Option("--profile", help="The profile holding it")],
    identifier: Annotated[
        str, typer.Option("--identifier", help="The wrong identifier, KIND:VALUE")
    ],
    reason: ReasonOption,
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Take one wrong identifier (an e-mail an agent mistyped) off a profile's records
    without erasing anyone; the profile re-resolves and later loads of the same records
    leave it out. Audited."""
    _reason(reason)
    kind, value = _identifier(identifier)
    with _opened(store, rules) as graph:
        try:
            report = graph.erasure.remove_identifier(cli_actor(), reason, profile, kind, value)
        except (UnknownProfile, InvalidIdentifier) as error:
            raise _refusal(error, [identifier], [profile]) from None
        except InvalidArgument as error:
            raise _refuse("--identifier", identifier, str(error)) from None
    console.print(
        f"removed from {report.records:,} records; they are in profile "
        f"{', '.join(report.profiles)}; audit entry {report.audit_id}",
        highlight=False,
    )


@suppression_app.command("list")
def suppression_list(
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most entries shown")] = 1000,
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """The suppression list: hash, what was hashed (an identifier kind or a record), when,
    and the audit entry of the erasure that added it. Values are never kept."""
    with _opened(store, rules) as graph:
        entries = graph.erasure.suppressions(limit=limit)
    table = Table("hash", "kind", "at", "erasure")
    # The hash is whole, never cut to the terminal's width: `remove --hash` takes it.
    table.columns[0].no_wrap = True
    table.columns[0].min_width = 64
    for entry in entries:
        at = entry.at.isoformat(timespec="seconds")
        table.add_row(entry.hash, entry.kind, at, str(entry.audit_id or ""))
    # A pipe has no width of its own (rich assumes 80): lines as long as the row needs.
    (out if out.is_terminal else Console(width=max(out.width, 130))).print(table)
    console.print(f"{len(entries):,} entries", highlight=False)


@suppression_app.command("remove")
def suppression_remove(
    reason: ReasonOption,
    identifier: IdentifiersOption = None,
    hash_: Annotated[
        list[str] | None, typer.Option("--hash", help="An entry's hash (from `list`)")
    ] = None,
    erasure: Annotated[
        int | None,
        typer.Option("--erasure", help="Every entry the erasure with this audit id added"),
    ] = None,
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Take entries off the suppression list after a mistaken erasure: what was erased
    stays erased, but the next load may bring the person back. Audited."""
    _reason(reason)
    identifiers = identifier or []
    named = [_identifier(text) for text in identifiers]
    if not named and not hash_ and erasure is None:
        raise _refuse("--identifier / --hash / --erasure", None, "name at least one entry")
    with _opened(store, rules) as graph:
        try:
            lifted = graph.erasure.lift(cli_actor(), reason, hash_ or [], named, erasure)
        except (InvalidIdentifier, UnknownIdentifierKind) as error:
            raise _refusal(error, identifiers, []) from None
    console.print(f"{len(lifted):,} entries taken off the suppression list", highlight=False)


@retention_app.command("apply")
def retention_apply(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what is past its period; delete nothing")
    ] = False,
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Delete records of every source with `retention_days` in its mapping, and events
    when the rules' [events] retention_days is set, that are older than that; profiles
    re-resolve. The server does it on its own with IDGRAPH_RETENTION_SECONDS."""
    with _opened(store, rules) as graph:
        periods = graph.retention.periods()
        event_days = graph.rules.events.retention_days
        if not periods and event_days is None:
            console.print(
                "no retention period is set: add retention_days to a source mapping or to "
                "the rules' [events]",
                highlight=False,
            )
            return
        for source, days in sorted(periods.items()):
            console.print(f"  {source}: records kept {days:,} days", highlight=False)
        if event_days is not None:
            console.print(f"  events: kept {event_days:,} days", highlight=False)
        with _progress_bars() as bars:
            task = bars.add_task("deleting", total=None)
            report = graph.retention.apply(
                cli_actor(), dry_run=dry_run, progress=lambda n: bars.update(task, completed=n)
            )
    verb = "would delete" if dry_run else "deleted"
    records = ", ".join(f"{n:,} of {s}" for s, n in sorted(report.records.items())) or "none"
    console.print(
        f"{verb}: records {records}; {report.events:,} events"
        + (
            ""
            if dry_run
            else f"; {report.profiles_deleted:,} profiles deleted, "
            f"{report.profiles_changed:,} changed"
        ),
        highlight=False,
    )
