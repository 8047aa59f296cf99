"""FastAPI dependencies shared by the routes: the graph and a size-limited request body."""

from __future__ import annotations

from fastapi import Request

from identity.graph import IdentityGraph
from service.config import Settings
from service.errors import ApiError


def get_graph(request: Request) -> IdentityGraph:
    graph: IdentityGraph = request.app.state.graph
    return graph


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def read_body(request: Request) -> bytes:
    """The request body, refused with 413 as soon as it exceeds ``max_body_bytes``."""
    limit = get_settings(request).max_body_bytes
    too_large = ApiError(
        413, "PAYLOAD_TOO_LARGE", f"the body exceeds {limit:,} bytes: send the records in parts"
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def graphql_body_limit(request: Request) -> None:
    """Refuse a GraphQL body whose declared size is over the cap before it is read: the
    query's own limits come after parsing the JSON, which for megabytes costs the
    server what the limits are there to save."""
    limit = get_settings(request).graphql_max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(
            413,
            "PAYLOAD_TOO_LARGE",
            f"the body exceeds {limit:,} bytes (IDGRAPH_GRAPHQL_MAX_BODY_BYTES)",
        )
