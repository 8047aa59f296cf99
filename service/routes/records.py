"""Sending records (``POST /v1/records``) and managing source mappings (``/v1/sources``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Header, Query

from identity.graph import IdentityGraph
from identity.mapping import SourceMapping
from identity.model import JSONValue
from identity.readers import parse_payload
from service.auth import ADMIN, INGEST_WRITE, PROFILES_READ, Principal, require
from service.deps import get_graph, read_body
from service.errors import ApiError

router = APIRouter(prefix="/v1", tags=["records"])

_ROWS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


@router.post("/records", openapi_extra=_ROWS_BODY)
def post_records(
    source: str = Query(description="A registered source"),
    content_type: str | None = Header(None),
    body: bytes = Depends(read_body),
    graph: IdentityGraph = Depends(get_graph),
    principal: Principal = Depends(require(INGEST_WRITE)),
) -> dict[str, JSONValue]:
    """Ingest a JSON array (or one object), NDJSON or CSV body of the source's rows.

    Answers 200 with the ingest report, listing each rejected row and field problem.
    """
    rows = parse_payload(body, content_type)
    return graph.ingest.ingest_rows(source, rows, actor=principal.name).as_dict()


def _describe(mapping: SourceMapping) -> dict[str, JSONValue]:
    return {"name": mapping.source, **mapping.to_document()}


@router.get("/sources", dependencies=[Depends(require(PROFILES_READ))])
def list_sources(graph: IdentityGraph = Depends(get_graph)) -> list[dict[str, JSONValue]]:
    """Every registered source with its mapping document."""
    return [_describe(m) for m in graph.ingest.sources()]


@router.put("/sources/{name}", dependencies=[Depends(require(ADMIN))])
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
