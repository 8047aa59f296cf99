"""Streaming a segment's members for activation: ``GET /v1/segments/{name}/members``.

NDJSON or CSV, the chosen fields, read from the store page by page and written as they
come, so an audience of millions is exported in constant memory. Only members leave: a
segment that requires consent has no members without it; personal fields leave masked
for a token without ``pii:read`` (an activation job that sends e-mails needs both).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from identity.export import csv_cell
from identity.graph import IdentityGraph
from identity.model import JSONValue
from service.auth import SEGMENTS_READ, Principal, require
from service.deps import get_graph
from service.errors import error_responses
from service.masking import Masker

router = APIRouter(prefix="/v1", tags=["segments"])

DEFAULT_FIELDS = "profile_id,email,phone,first_name,last_name"


CHUNK = 1 << 16
"""Bytes gathered before a chunk is sent: a chunk per row would cost the server a thread
hop and a socket write per member."""


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


def _csv(rows: Iterator[dict[str, JSONValue]], fields: list[str]) -> Iterator[bytes]:
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


@router.get(
    "/segments/{name}/members",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The members, one row per profile",
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        },
        **error_responses(
            400,
            401,
            403,
            404,
            422,
            503,
            detail={
                400: "A field nothing can answer, named with the fields that can be "
                "asked for (INVALID_ARGUMENT, argument: fields)",
                404: "No such segment (UNKNOWN_SEGMENT)",
                422: "A parameter is malformed, e.g. an unknown format (INVALID_REQUEST)",
            },
        ),
    },
)
def export_members(
    name: str,
    format: Literal["ndjson", "csv"] = Query("ndjson", description="ndjson or csv"),
    fields: str | None = Query(
        None,
        description="Comma-separated: profile_id, identifier kinds (email, phone, ...), "
        "attributes the records hold, traits.NAME, consent.PURPOSE. Default: profile_id and "
        f"whichever of {DEFAULT_FIELDS.removeprefix('profile_id,')} the store holds",
    ),
    graph: IdentityGraph = Depends(get_graph),
    principal: Principal = Depends(require(SEGMENTS_READ)),
) -> StreamingResponse:
    """Every member of the segment, one row per profile; e-mails, phones, names and other
    personal fields are masked unless the token also has ``pii:read``."""
    if fields is None:
        chosen = graph.catalog.known(DEFAULT_FIELDS.split(","))
    else:
        chosen = [f.strip() for f in fields.split(",") if f.strip()]
        graph.catalog.check(chosen)  # INVALID_ARGUMENT (400) naming the field and the valid ones
    graph.segments.get(name)  # UnknownSegment (404) before the stream starts
    rows = graph.segments.export(name, chosen, actor=principal.name)
    masker = Masker.for_principal(graph.rules, principal)
    if not masker.reveals:
        # Each column's mask is chosen once for the export, not once per value.
        rows = map(masker.row_masker(chosen), rows)
    if format == "csv":
        return StreamingResponse(
            _csv(rows, chosen),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return StreamingResponse(_ndjson(rows), media_type="application/x-ndjson")
