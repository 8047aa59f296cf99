"""The body of a segment export: a segment's members as NDJSON or CSV bytes, masked for a
caller without ``pii:read``, in chunks of about :data:`CHUNK` bytes.

One function, :func:`export_body`, used wherever the rows are made: in the API process
(``service/routes/segments.py``) or in an export process beside it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from typing import Literal

import orjson

from identity.export import computed_field, csv_cell
from identity.graph import IdentityGraph
from identity.model import JSONValue
from service.masking import Masker

ExportFormat = Literal["ndjson", "csv"]

CHUNK = 1 << 16
"""Bytes gathered before a chunk is sent: a chunk per row would cost the server a thread
hop and a socket write per member."""


def export_body(
    graph: IdentityGraph,
    name: str,
    fields: Sequence[str],
    reveals: bool,
    fmt: ExportFormat,
    actor: str,
) -> Iterator[bytes]:
    """The export of segment ``name`` (audited as asked by ``actor`` when called), its
    personal columns masked unless ``reveals``. Raises UnknownSegment, InvalidArgument."""
    rows = graph.segments.export(name, fields, actor=actor)
    if not reveals:
        # Each column's mask is chosen once for the export, not once per value.
        computed = [name for name in fields if computed_field(name)]
        rows = map(Masker(graph.rules, reveals=False).row_masker(fields, computed), rows)
    if fmt == "csv":
        return _csv(rows, fields)
    return _ndjson(rows)


def ndjson_line(row: dict[str, JSONValue]) -> bytes:
    """One row as a line of NDJSON (without its newline): compact UTF-8 JSON, as
    ``json.dumps(row, ensure_ascii=False, separators=(",", ":"), default=str)`` writes it.

    orjson writes it several times faster; what it refuses (an integer beyond 64 bits, a
    string that is not valid Unicode) the standard library writes, as before."""
    try:
        return orjson.dumps(row, default=str, option=orjson.OPT_PASSTHROUGH_DATETIME)
    except (orjson.JSONEncodeError, TypeError):
        text = json.dumps(row, ensure_ascii=False, separators=(",", ":"), default=str)
        return text.encode("utf-8")


def _ndjson(rows: Iterator[dict[str, JSONValue]]) -> Iterator[bytes]:
    lines: list[bytes] = []
    size = 0
    for row in rows:
        line = ndjson_line(row)
        lines.append(line)
        size += len(line) + 1
        if size > CHUNK:
            lines.append(b"")
            yield b"\n".join(lines)
            lines, size = [], 0
    if lines:
        lines.append(b"")
        yield b"\n".join(lines)


def _csv(rows: Iterator[dict[str, JSONValue]], fields: Sequence[str]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([csv_cell(row[f]) for f in fields])
        if buffer.tell() > CHUNK:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")
