"""Reading rows from CSV and JSON Lines files and from HTTP bodies, streaming.

Rows come out numbered (1-based: the data row of a CSV, the line of a JSON Lines file, the
element of a JSON array) as plain dicts, or as the :class:`RowProblem` that stopped a row
being read, so one malformed row never stops the others.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, cast

from identity.errors import InvalidPayload, RowProblem
from identity.ingest import Row

NDJSON_TYPES = frozenset(
    {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}
)
CSV_TYPES = frozenset({"text/csv", "application/csv"})
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


def file_format(path: Path) -> str:
    """``csv`` or ``jsonl`` from a file name (``.gz`` looked through)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    fmt = _EXTENSIONS.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise InvalidPayload(
            f"{path.name}: cannot tell the format from the extension; "
            "use .csv, .jsonl or .ndjson (optionally .gz) or pass --format"
        )
    return fmt


def read_file(path: Path, fmt: str | None = None, csv_delimiter: str = ",") -> Iterator[Row]:
    """Stream the rows of a CSV or JSON Lines file (gzip-compressed or not).

    Raises InvalidPayload if the file cannot be opened or is not UTF-8 text.
    """
    fmt = fmt or file_format(path)
    if fmt not in ("csv", "jsonl"):
        raise InvalidPayload(f"unknown format {fmt!r}: use csv or jsonl")
    try:
        raw = _open_binary(path)
    except OSError as error:
        raise InvalidPayload(f"{path}: {error.strerror}") from None
    with raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
        rows = _csv_rows(text, csv_delimiter) if fmt == "csv" else _jsonl_rows(text)
        yield from _decoded(rows, str(path))


def _open_binary(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def parse_payload(body: bytes, content_type: str | None) -> Iterator[Row]:
    """Rows of an HTTP body: a JSON array or object, NDJSON, or CSV by content type.

    Raises InvalidPayload when the body as a whole is unusable (not UTF-8, a JSON syntax
    error outside NDJSON, a top-level value that is neither an array nor an object).
    """
    media = (content_type or "application/json").split(";", 1)[0].strip().lower()
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidPayload(f"the body is not UTF-8 (byte {error.start})") from None
    if media in NDJSON_TYPES:
        return _jsonl_rows(io.StringIO(text))
    if media in CSV_TYPES:
        return _csv_rows(io.StringIO(text, newline=""), ",")
    if media != "application/json" and not media.endswith("+json"):
        raise InvalidPayload(
            f"unsupported content type {media!r}: send application/json (an array of "
            "objects or one object), application/x-ndjson or text/csv"
        )
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidPayload(
            f"not valid JSON at line {error.lineno} column {error.colno}: {error.msg} "
            "(send one JSON array, or NDJSON with Content-Type application/x-ndjson)"
        ) from None
    if isinstance(parsed, dict):
        return iter([(1, parsed)])
    if isinstance(parsed, list):
        return _objects(enumerate(parsed, start=1))
    raise InvalidPayload(f"expected a JSON array of objects or one object, got {_type(parsed)}")


def _objects(items: Iterable[tuple[int, object]]) -> Iterator[Row]:
    for number, item in items:
        if isinstance(item, dict):
            yield number, item
        else:
            yield (
                number,
                RowProblem(number, None, f"a row must be a JSON object, got {_type(item)}"),
            )


def _jsonl_rows(lines: Iterable[str]) -> Iterator[Row]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            yield number, RowProblem(number, None, f"not valid JSON: {error.msg}")
            continue
        yield from _objects([(number, item)])


def _csv_rows(text: IO[str], delimiter: str) -> Iterator[Row]:
    reader = csv.reader(text, delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        return
    header = [h.strip() for h in header]
    width = len(header)
    for number, values in enumerate(reader, start=1):
        if not values:
            continue
        if len(values) > width:
            yield (
                number,
                RowProblem(number, None, f"{len(values)} fields but the header has {width}"),
            )
            continue
        yield number, dict(zip(header, values, strict=False))


def _decoded(rows: Iterator[Row], where: str) -> Iterator[Row]:
    """Turn a decoding failure deep in a file into a clear error naming the file."""
    last = 0
    try:
        for row in rows:
            last = row[0]
            yield row
    except UnicodeDecodeError:
        raise InvalidPayload(f"{where}: not UTF-8 text after row {last}") from None
    except csv.Error as error:
        raise InvalidPayload(f"{where}: unreadable CSV after row {last}: {error}") from None


def _type(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else "null"
    )
