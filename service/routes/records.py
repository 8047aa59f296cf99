"""Sending records (``POST /v1/records``) and managing source mappings (``/v1/sources``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request

from identity.graph import IdentityGraph
from identity.mapping import SourceMapping
from identity.model import JSONValue
from identity.readers import parse_payload
from service.auth import ADMIN, INGEST_WRITE, PROFILES_READ, Principal, require
from service.deps import get_graph, read_body
from service.errors import ApiError, error_responses

router = APIRouter(prefix="/v1", tags=["records"])

# A JSON array's elements are rows: one that is not an object is a rejected row in the
# report, not a bad request, so the array's items are documented as any JSON value.
_ROWS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"oneOf": [{"type": "object"}, {"type": "array"}]}},
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}
PAYLOAD_PROBLEMS = (
    "The body cannot be read as rows at all: empty, not text in its encoding, broken JSON, "
    "JSON nesting deeper than the limit, an unsupported content type (INVALID_PAYLOAD)"
)
CSV_PROBLEMS = (
    "; a CSV whose layout is broken: a row with more or fewer fields than the header, or a "
    "quoted value spanning lines that holds what looks like a row (a quote never closed); "
    "the message names the row and the line, and nothing of the body is stored"
)


@router.post(
    "/records",
    openapi_extra=_ROWS_BODY,
    responses=error_responses(
        400,
        401,
        403,
        404,
        413,
        422,
        503,
        detail={
            400: PAYLOAD_PROBLEMS + CSV_PROBLEMS,
            404: "The source is not registered (UNKNOWN_SOURCE)",
            422: "The source parameter is missing (INVALID_REQUEST), or its stored mapping "
            "does not fit the rules (INVALID_CONFIG)",
        },
    ),
)
def post_records(
    request: Request,
    source: str = Query(description="A registered source"),
    allow_multiline: bool = Query(
        False,
        description="CSV: accept quoted values spanning lines even where a line in one looks "
        "like a row of its own (the source's mapping may allow them for good)",
    ),
    body: bytes = Depends(read_body),
    graph: IdentityGraph = Depends(get_graph),
    principal: Principal = Depends(require(INGEST_WRITE)),
) -> dict[str, JSONValue]:
    """Ingest a JSON array (or one object), NDJSON or CSV body of the source's rows.

    A CSV is read with the mapping's delimiter, in the ``charset`` of the Content-Type (else
    the mapping's encoding, else UTF-8), and checked whole before a row is stored.
    Answers 200 with the ingest report, listing each rejected row and field problem.
    """
    # The content type is read, not declared as a parameter: the request body's media
    # types document it.
    content_type = request.headers.get("content-type")
    mapping = graph.ingest.source(source)
    rows = parse_payload(
        body,
        content_type,
        graph.rules.limits.max_depth,
        csv_delimiter=mapping.csv_delimiter,
        encoding=mapping.encoding,
        allow_multiline=allow_multiline or mapping.allow_multiline,
    )
    return graph.ingest.ingest_rows(source, rows, actor=principal.name).as_dict()


def _describe(mapping: SourceMapping) -> dict[str, JSONValue]:
    return {"name": mapping.source, **mapping.to_document()}


@router.get(
    "/sources",
    dependencies=[Depends(require(PROFILES_READ))],
    responses=error_responses(
        401, 403, 422, 503, detail={422: "A stored mapping does not fit the rules (INVALID_CONFIG)"}
    ),
)
def list_sources(graph: IdentityGraph = Depends(get_graph)) -> list[dict[str, JSONValue]]:
    """Every registered source with its mapping document."""
    return [_describe(m) for m in graph.ingest.sources()]


@router.put(
    "/sources/{name}",
    dependencies=[Depends(require(ADMIN))],
    responses=error_responses(
        400,
        401,
        403,
        422,
        503,
        detail={
            400: "The body cannot be decoded: not UTF-8, or nesting too deep (BAD_REQUEST)",
            422: "The mapping is invalid; the message names the field (INVALID_CONFIG), or the "
            "body is not a JSON object (INVALID_REQUEST)",
        },
    ),
)
def put_source(
    name: str,
    document: dict[str, Any] = Body(description="A mapping document (docs/sources.md) as JSON"),
    graph: IdentityGraph = Depends(get_graph),
) -> dict[str, JSONValue]:
    """Register or replace a source's mapping; ``source`` defaults to the name in the path."""
    document = {"source": name, **document}
    if document["source"] != name:
        raise ApiError(
            422,
            "INVALID_CONFIG",
            f"the path names source '{name}' but the mapping's source is {document['source']!r}",
        )
    mapping = SourceMapping.from_document(document, path=f"source '{name}'", rules=graph.rules)
    graph.ingest.register_source(mapping)
    return _describe(mapping)
