"""Sending events in real time (``POST /v1/events``): one JSON object, a JSON array or an
NDJSON batch. The format is identity/events.py's; the answer is the ingest report."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from identity.errors import InvalidPayload
from identity.graph import IdentityGraph
from identity.model import JSONValue
from identity.readers import CSV_TYPES, parse_payload
from service.auth import INGEST_WRITE, Principal, require
from service.deps import get_graph, read_body
from service.errors import error_responses
from service.routes.records import PAYLOAD_PROBLEMS

router = APIRouter(prefix="/v1", tags=["events"])

_EVENTS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"oneOf": [{"type": "object"}, {"type": "array"}]}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    }
}


@router.post(
    "/events",
    openapi_extra=_EVENTS_BODY,
    responses=error_responses(
        400, 401, 403, 413, 503, detail={400: PAYLOAD_PROBLEMS + "; CSV, which events are not"}
    ),
)
def post_events(
    request: Request,
    body: bytes = Depends(read_body),
    graph: IdentityGraph = Depends(get_graph),
    principal: Principal = Depends(require(INGEST_WRITE)),
) -> dict[str, JSONValue]:
    """Store events (idempotent by ``event_id``), stitch logins, update segments.

    Answers 200 with the report, listing each rejected event and field problem; the events
    are in the profiles' journeys, and their segments updated, when it returns.
    """
    content_type = request.headers.get("content-type")  # documented by the body's media types
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in CSV_TYPES:
        raise InvalidPayload(
            "events are JSON: send one object, an array, or NDJSON "
            "(Content-Type application/x-ndjson)"
        )
    rows = parse_payload(body, content_type, graph.rules.limits.max_depth)
    return graph.events.ingest_rows(rows, actor=principal.name).as_dict()
