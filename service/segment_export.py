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

from identity.export import csv_cell
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
        rows = map(Masker(graph.rules, reveals=False).row_masker(fields), rows)
    if fmt == "csv":
        return _csv(rows, fields)
    return _ndjson(rows)


def _ndjson(rows: Iterator[dict[str, JSONValue]]) -> Iterator[bytes]:
    lines: list[str] = []
    size = 0
    for row in rows:
        line = json.dumps(row, ensure_ascii=False, default=str)
        lines.append(line)
        size += len(line) + 1
        if size > CHUNK:
            lines.append("")
            yield "\n".join(lines).encode("utf-8")
            lines, size = [], 0
    if lines:
        lines.append("")
        yield "\n".join(lines).encode("utf-8")


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
