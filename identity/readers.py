"""Reading rows from CSV and JSON Lines files and from HTTP bodies, streaming.

Rows come out numbered (1-based: the data row of a CSV, the line of a JSON Lines file, the
element of a JSON array) as plain dicts, or as the :class:`RowProblem` that stopped a row
being read, so one malformed row never stops the others.

JSON is measured before it is parsed: the parser recurses once per level, so a body of
100,000 ``[`` would exhaust the stack; deeper than ``max_depth`` is refused unread.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, cast

import numpy as np

from identity.errors import InvalidPayload, RowProblem
from identity.ingest import Row
from identity.limits import DEFAULT_MAX_DEPTH, OversizedNumber

NDJSON_TYPES = frozenset(
    {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}
)
CSV_TYPES = frozenset({"text/csv", "application/csv"})
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
_STRUCTURE = b'"[]{}'
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in _STRUCTURE)
_LONGEST_NUMBER = 20
"""Characters of an integer that may be within the number limit (2**63 - 1 has 19 digits)."""
_CHUNK = 1 << 20


def json_depth(data: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest (0 for a scalar), without
    parsing it, in time linear in its length and memory bounded by a chunk.

    Escaped backslashes and quotes are dropped first (outside strings JSON has none), so
    the quotes left delimit strings; a bracket counts when an even number of quotes
    precede it.
    """
    kept = data.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_STRUCTURE)
    deepest = level = quotes = 0
    for start in range(0, len(kept), _CHUNK):
        chunk = np.frombuffer(kept[start : start + _CHUNK], dtype=np.uint8)
        quote = chunk == ord('"')
        outside = (np.cumsum(quote, dtype=np.int64) + quotes) % 2 == 0
        opens = outside & ((chunk == ord("[")) | (chunk == ord("{")))
        closes = outside & ((chunk == ord("]")) | (chunk == ord("}")))
        levels = np.cumsum(opens.astype(np.int64) - closes, dtype=np.int64) + level
        deepest = max(deepest, int(levels.max()))
        level = int(levels[-1])
        quotes += int(quote.sum())
    return deepest


def depth_over(data: bytes | str, max_depth: int) -> int | None:
    """The depth of ``data`` when it is over ``max_depth``, else None (cheaply, for the
    common text with fewer brackets than the limit)."""
    if isinstance(data, str):
        if data.count("[") + data.count("{") <= max_depth:
            return None
        data = data.encode("utf-8", "surrogatepass")
    elif data.count(b"[") + data.count(b"{") <= max_depth:
        return None
    depth = json_depth(data)
    return depth if depth > max_depth else None


def _integer(digits: str) -> int | OversizedNumber:
    if len(digits) > _LONGEST_NUMBER:
        return OversizedNumber(len(digits.lstrip("-")))
    return int(digits)


def _loads(text: str) -> object:
    """JSON as Python; an integer too long for any limit stays unconverted (it is refused
    as a row problem, naming its field), and NaN and Infinity are read so they can be."""
    return json.loads(text, parse_int=_integer)


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


def read_file(
    path: Path,
    fmt: str | None = None,
    csv_delimiter: str = ",",
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Iterator[Row]:
    """Stream the rows of a CSV or JSON Lines file (gzip-compressed or not); a JSON line
    nesting deeper than ``max_depth`` is a row problem.

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
        rows = _csv_rows(text, csv_delimiter) if fmt == "csv" else _jsonl_rows(text, max_depth)
        yield from _decoded(rows, str(path))


def _open_binary(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def parse_payload(
    body: bytes, content_type: str | None, max_depth: int = DEFAULT_MAX_DEPTH
) -> Iterator[Row]:
    """Rows of an HTTP body: a JSON array or object, NDJSON, or CSV by content type.

    ``max_depth`` is how deep one row may nest (the array around the rows not counted).
    Raises InvalidPayload when the body as a whole is unusable (not UTF-8, a JSON syntax
    error outside NDJSON, JSON nesting deeper than ``max_depth``, a top-level value that
    is neither an array nor an object).
    """
    media = (content_type or "application/json").split(";", 1)[0].strip().lower()
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidPayload(f"the body is not UTF-8 (byte {error.start})") from None
    if media in NDJSON_TYPES:
        return _jsonl_rows(io.StringIO(text), max_depth)
    if media in CSV_TYPES:
        return _csv_rows(io.StringIO(text, newline=""), ",")
    if media != "application/json" and not media.endswith("+json"):
        raise InvalidPayload(
            f"unsupported content type {media!r}: send application/json (an array of "
            "objects or one object), application/x-ndjson or text/csv"
        )
    # The array around the rows is one level more than a row may nest.
    allowed = max_depth + 1 if text.lstrip().startswith("[") else max_depth
    depth = depth_over(body, allowed)
    if depth is not None:
        raise InvalidPayload(
            f"the JSON nests {depth:,} levels deep; the limit is {allowed} "
            f"({max_depth} for a row, one more for the array around the rows)"
            if allowed > max_depth
            else f"the JSON nests {depth:,} levels deep; the limit is {max_depth}"
        )
    try:
        parsed = _loads(text)
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


def _jsonl_rows(lines: Iterable[str], max_depth: int) -> Iterator[Row]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        depth = depth_over(line, max_depth)
        if depth is not None:
            problem = f"the line nests {depth:,} levels deep; the limit is {max_depth}"
            yield number, RowProblem(number, None, problem)
            continue
        try:
            item = _loads(line)
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
