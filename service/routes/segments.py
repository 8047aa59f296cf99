"""Streaming a segment's members for activation: ``GET /v1/segments/{name}/members``.

NDJSON or CSV, the chosen fields, read from the store page by page and written as they
come, so an audience of millions is exported in constant memory. Only members leave: a
segment that requires consent has no members without it; personal fields leave masked
for a token without ``pii:read`` (an activation job that sends e-mails needs both).
"""

from __future__ import annotations

import inspect
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from identity.graph import IdentityGraph
from service.auth import SEGMENTS_READ, Principal, require
from service.deps import get_graph
from service.errors import error_responses
from service.export_process import ExportPool, ExportRequest
from service.masking import Masker

router = APIRouter(prefix="/v1", tags=["segments"])

DEFAULT_FIELDS = "profile_id,email,phone,first_name,last_name"


class ExportResponse(StreamingResponse):
    """A streaming response that closes its body however the response ends: a client that
    goes away leaves an export process's stream suspended, and closing it is what stops
    that process (garbage collection would, but later)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if inspect.isasyncgen(self.body_iterator):
                await self.body_iterator.aclose()


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
    request: Request,
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
    segment = graph.segments.get(name)  # UnknownSegment (404) before the stream starts
    reveals = Masker.for_principal(graph.rules, principal).reveals
    # A large segment's body is made in an export process when one is free (a lookup
    # served meanwhile does not wait behind it for the GIL), else here.
    pool: ExportPool = request.app.state.export_pool
    asked = ExportRequest(name, tuple(chosen), reveals, format, principal.name)
    body = pool.body(graph, segment.size, asked)
    if format == "csv":
        return ExportResponse(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return ExportResponse(body, media_type="application/x-ndjson")
