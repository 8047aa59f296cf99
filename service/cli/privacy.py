"""Privacy operations on the command line: erasure, suppression, access requests and
retention (docs/privacy.md)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from identity.errors import (
    AmbiguousIdentifier,
    InvalidArgument,
    InvalidIdentifier,
    UnknownProfile,
)
from service.cli.common import RulesOption, StoreOption, _opened, app, cli_actor, console

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


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read: it holds one person's data, unmasked."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


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
    with _opened(store, rules) as graph:
        try:
            document = graph.person_data.export(cli_actor(), identifier=asked, profile_id=profile)
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
    profiles = ", ".join(str(p["id"]) for p in document["profiles"])
    if out_file == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        _write_private(Path(out_file), text)
    where = "stdout" if out_file == "-" else out_file
    console.print(f"wrote the access export of profile {profiles} to {where}", highlight=False)
