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
