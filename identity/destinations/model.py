"""A destination: where a segment's changes are pushed (a webhook URL or a folder), which
fields go with them, and how hard to try. Validated here, with errors naming the field."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from identity.errors import InvalidArgument
from identity.model import SEGMENT_REMOVED, DestinationRow, JSONValue

WEBHOOK, FILE = "webhook", "file"
STOPPED_REASONS = (SEGMENT_REMOVED,)
SNAPSHOT, CHANGES = "snapshot", "changes"
DEAD, REPLAYED = "dead", "replayed"
FORMATS = ("csv", "parquet")
STARTS = ("snapshot", "now")
DEFAULT_FIELDS = ("profile_id",)
RESERVED_FIELDS = frozenset({"seq", "kind", "at", "merged_into"})
"""Keys every delivered row carries itself; a field of that name would be ambiguous."""
MAX_BATCH = 10_000
DEFAULT_BATCH_SIZE = 1000
DEFAULT_MAX_ATTEMPTS = 10
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_MAX_BATCH_BYTES = 1024 * 1024
"""A batch's body closes before it passes this many bytes (1 MiB)."""
MAX_BATCH_BYTES = 1024 * 1024 * 1024
MAX_SNAPSHOT_EVERY_HOURS = 24 * 366
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Destination:
    """A validated destination (its stored row's config, read back)."""

    name: str
    segment: str
    kind: str
    url: str | None = None
    folder: str | None = None
    format: str = "csv"
    fields: tuple[str, ...] = DEFAULT_FIELDS
    batch_size: int = DEFAULT_BATCH_SIZE
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES
    """A batch closes before its rows' NDJSON encoding passes this many bytes (a row larger
    than that alone goes alone)."""
    snapshot_every_hours: float | None = None
    """A file destination writes a new full snapshot when this many hours have passed since
    the last (None: one snapshot, at the start)."""
    requires_consent: str | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    secret_env: str | None = None
    """The environment variable holding the signing secret, when it is not in the store."""
    secret: str | None = field(default=None, repr=False)
    paused: bool = False
    created_at: datetime | None = None
    created_by: str | None = None

    def config(self) -> dict[str, JSONValue]:
        """What is stored as the config document."""
        doc: dict[str, JSONValue] = {
            "fields": list(self.fields),
            "batch_size": self.batch_size,
            "max_batch_bytes": self.max_batch_bytes,
            "max_attempts": self.max_attempts,
            "timeout_seconds": self.timeout_seconds,
        }
        if self.kind == WEBHOOK:
            doc["url"] = self.url
        else:
            doc["folder"] = self.folder
            doc["format"] = self.format
            if self.snapshot_every_hours is not None:
                doc["snapshot_every_hours"] = self.snapshot_every_hours
        if self.requires_consent is not None:
            doc["requires_consent"] = self.requires_consent
        if self.secret_env is not None:
            doc["secret_env"] = self.secret_env
        return doc

    @classmethod
    def from_row(cls, row: DestinationRow) -> Destination:
        c: dict[str, Any] = row.config
        return cls(
            name=row.name,
            segment=row.segment,
            kind=row.kind,
            url=c.get("url"),
            folder=c.get("folder"),
            format=c.get("format", "csv"),
            fields=tuple(c.get("fields", DEFAULT_FIELDS)),
            batch_size=int(c.get("batch_size", DEFAULT_BATCH_SIZE)),
            max_batch_bytes=int(c.get("max_batch_bytes", DEFAULT_MAX_BATCH_BYTES)),
            snapshot_every_hours=(
                float(c["snapshot_every_hours"])
                if c.get("snapshot_every_hours") is not None
                else None
            ),
            requires_consent=c.get("requires_consent"),
            max_attempts=int(c.get("max_attempts", DEFAULT_MAX_ATTEMPTS)),
            timeout_seconds=float(c.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)),
            secret_env=c.get("secret_env"),
            secret=row.secret,
            paused=row.paused,
            created_at=row.created_at,
            created_by=row.created_by,
        )


def _refuse(argument: str, given: object, problem: str) -> InvalidArgument:
    return InvalidArgument(f"{argument} {given!r}: {problem}", argument=argument)


@dataclass(frozen=True, slots=True)
class DestinationSettings:
    """What a user asks for when adding a destination, in one place: the command line's
    options and GraphQL's ``AddDestinationInput`` make one, :func:`validate` checks it and
    makes the :class:`Destination`, and :meth:`DestinationService.add` stores that."""

    name: str
    segment: str
    url: str | None = None
    folder: str | None = None
    format: str = "csv"
    fields: Sequence[str] = DEFAULT_FIELDS
    batch_size: int = DEFAULT_BATCH_SIZE
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES
    snapshot_every_hours: float | None = None
    requires_consent: str | None = None
    start: str = "snapshot"
    """``snapshot``: every member first, then changes; ``now``: changes from now on."""
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    secret_env: str | None = None


def validate(settings: DestinationSettings, purposes: Sequence[str] = ()) -> Destination:
    """A destination from what a user typed; InvalidArgument naming the argument and the
    value otherwise. Segment existence and field names are checked by the service."""
    name, segment, url, folder = settings.name, settings.segment, settings.url, settings.folder
    format, fields, secret_env = settings.format, settings.fields, settings.secret_env
    batch_size, max_batch_bytes = settings.batch_size, settings.max_batch_bytes
    snapshot_every_hours = settings.snapshot_every_hours
    requires_consent, start = settings.requires_consent, settings.start
    max_attempts, timeout_seconds = settings.max_attempts, settings.timeout_seconds
    if not _NAME.match(name):
        raise _refuse(
            "name", name, "use 1-64 lower-case letters, digits, '_' or '-', starting with one"
        )
    if (url is None) == (folder is None):
        raise InvalidArgument("give exactly one of a webhook URL or a folder", argument="url")
    if url is not None:
        if any(ord(c) < 32 or ord(c) == 127 for c in url):
            raise _refuse("url", url, "holds a control character")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _refuse("url", url, "must be an http:// or https:// URL with a host")
    if folder is not None:
        if not folder.startswith("/"):
            raise _refuse("folder", folder, "must be an absolute path")
        if any(ord(c) < 32 or ord(c) == 127 for c in folder):
            raise _refuse("folder", folder, "holds a control character")
    if format not in FORMATS:
        raise _refuse("format", format, f"one of {', '.join(FORMATS)}")
    chosen = tuple(f.strip() for f in fields if f.strip())
    if not chosen:
        raise _refuse("fields", ",".join(fields), "choose at least one field")
    for f in chosen:
        if f in RESERVED_FIELDS:
            raise _refuse(
                "fields", f, f"every row carries {', '.join(sorted(RESERVED_FIELDS))} already"
            )
    if len(set(chosen)) != len(chosen):
        raise _refuse("fields", ",".join(chosen), "a field is named twice")
    if not 1 <= batch_size <= MAX_BATCH:
        raise _refuse("batch_size", batch_size, f"must be between 1 and {MAX_BATCH}")
    if not 1 <= max_batch_bytes <= MAX_BATCH_BYTES:
        raise _refuse(
            "max_batch_bytes", max_batch_bytes, f"must be between 1 and {MAX_BATCH_BYTES}"
        )
    if snapshot_every_hours is not None:
        if folder is None:
            raise _refuse(
                "snapshot_every_hours",
                snapshot_every_hours,
                "only a folder destination writes recurring snapshots",
            )
        if not 0 < snapshot_every_hours <= MAX_SNAPSHOT_EVERY_HOURS:
            raise _refuse(
                "snapshot_every_hours",
                snapshot_every_hours,
                f"must be above 0 and at most {MAX_SNAPSHOT_EVERY_HOURS}",
            )
    if start not in STARTS:
        raise _refuse("start", start, f"one of {', '.join(STARTS)}")
    if requires_consent is not None and requires_consent not in purposes:
        raise _refuse("requires_consent", requires_consent, f"one of {', '.join(purposes)}")
    if not 1 <= max_attempts <= 100:
        raise _refuse("max_attempts", max_attempts, "must be between 1 and 100")
    if not 0 < timeout_seconds <= 300:
        raise _refuse("timeout_seconds", timeout_seconds, "must be above 0 and at most 300")
    if secret_env is not None:
        if folder is not None:
            raise _refuse("secret_env", secret_env, "only a webhook signs its requests")
        if not _ENV.match(secret_env):
            raise _refuse("secret_env", secret_env, "not an environment variable name")
    return Destination(
        name=name,
        segment=segment,
        kind=WEBHOOK if url is not None else FILE,
        url=url,
        folder=folder,
        format=format,
        fields=chosen,
        batch_size=batch_size,
        max_batch_bytes=max_batch_bytes,
        snapshot_every_hours=snapshot_every_hours,
        requires_consent=requires_consent,
        max_attempts=max_attempts,
        timeout_seconds=timeout_seconds,
        secret_env=secret_env,
    )


@dataclass(frozen=True, slots=True)
class Batch:
    """One delivery: rows of a range of the change feed (``from_seq`` exclusive to
    ``to_seq`` inclusive) or a page of the initial snapshot (members after ``after_id``
    up to ``last_id``, with ``to_seq`` the snapshot's feed position)."""

    destination: str
    segment: str
    kind: str
    from_seq: int
    to_seq: int
    rows: list[dict[str, JSONValue]]
    after_id: str | None = None
    last_id: str | None = None
    final: bool = False
    """For a snapshot page: the last one."""

    @property
    def key(self) -> str:
        """The idempotency key: the same for every attempt and replay of the batch."""
        if self.kind == SNAPSHOT:
            return f"{self.destination}:snapshot-{self.to_seq}-{self.after_id or ''}"
        return f"{self.destination}:{self.from_seq}-{self.to_seq}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a sink answered for a batch: delivered, or why not and whether to retry."""

    delivered: bool
    status: int | None = None
    """The HTTP status, None for a timeout, a connection error or a file sink."""
    error: str | None = None
    """What went wrong, without personal data (a status line or an exception class)."""
    retry: bool = True
    """Whether trying again may help (False: dead-letter at once)."""
    retry_after: float | None = None
