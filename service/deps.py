"""FastAPI dependencies shared by the routes: the graph and a size-limited request body."""

from __future__ import annotations

import json
import re

from fastapi import Request
from starlette.requests import HTTPConnection

from identity.errors import InvalidPayload
from identity.graph import IdentityGraph
from identity.limits import printable
from identity.readers import depth_over
from service.config import Settings
from service.errors import ApiError


def get_graph(request: HTTPConnection) -> IdentityGraph:
    graph: IdentityGraph = request.app.state.graph
    return graph


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def read_body(request: Request) -> bytes:
    """The request body, refused with 413 as soon as it exceeds ``max_body_bytes``."""
    limit = get_settings(request).max_body_bytes
    return await _read_limited(request, limit, "IDGRAPH_MAX_BODY_BYTES")


async def _read_limited(request: Request, limit: int, setting: str) -> bytes:
    """The body, refused with 413 before it is read when its declared length is over
    ``limit``, and as soon as what arrives is."""
    too_large = ApiError(
        413,
        "PAYLOAD_TOO_LARGE",
        f"the body exceeds {limit:,} bytes ({setting}): send it in parts",
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


async def graphql_body(request: HTTPConnection) -> None:
    """Hold a GraphQL request to the limits the ingest routes have, before the GraphQL
    library reads it, where it would fail with a 500 or run what it should refuse.

    413 for a POST body over ``max_body_bytes``; 400 INVALID_PAYLOAD for JSON (a POST
    body, or a GET's ``variables`` and ``extensions``) nesting deeper than a row may (one
    level more for the request around the variables), which its recursive JSON parser
    fails on; for a body that is not UTF-8 or not JSON, or JSON that is not a request
    object, which it fails on; and for a ``query``, ``variables`` or ``operationName`` of
    the wrong type, which it runs regardless. A JSON array is a batch of such objects, up
    to ``graphql_max_batch`` of them (none when 0).
    """
    if not isinstance(request, Request):
        return  # a WebSocket: each subscribe is held to the query's limits when it runs
    limit = get_graph(request).rules.limits.max_depth + 1
    if request.method != "POST":
        for name in ("variables", "extensions"):
            depth = depth_over(request.query_params.get(name, ""), limit)
            if depth is not None:
                raise InvalidPayload(f"{name} nests {depth:,} levels deep; the limit is {limit}")
            try:
                decoded = json.loads(request.query_params.get(name, "null"))
            except json.JSONDecodeError:
                continue  # the GraphQL view's to refuse
            _refuse_lone_surrogates(decoded, name)
        return
    # The query's own limits come after parsing the JSON, which for megabytes would cost
    # the server what they are there to save: GraphQL bodies have a cap of their own.
    settings = get_settings(request)
    body = await _read_limited(
        request, settings.graphql_max_body_bytes, "IDGRAPH_GRAPHQL_MAX_BODY_BYTES"
    )
    # Starlette's own cache of the body: the GraphQL view reads it from there.
    request._body = body
    batched = settings.graphql_max_batch > 0 and body.lstrip()[:1] == b"["
    if batched:
        limit += 1  # the batch around the requests
    depth = depth_over(body, limit)
    if depth is not None:
        raise InvalidPayload(f"the JSON nests {depth:,} levels deep; the limit is {limit}")
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        return  # other bodies are the GraphQL view's to refuse
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidPayload(f"the body is not UTF-8 (byte {error.start})") from None
    try:
        envelope = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidPayload(
            f"not valid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from None
    if isinstance(envelope, list):
        _check_batch(envelope, settings.graphql_max_batch)
        # One answer for many operations: its HTTP status cannot be one operation's.
        request.state.graphql_batch = True
        return
    _check_request(envelope)


def _check_batch(batch: list[object], most: int) -> None:
    if most <= 0:
        raise InvalidPayload(
            'a GraphQL request is a JSON object: {"query": "..."}; batches (a JSON array) '
            "are off on this server (IDGRAPH_GRAPHQL_MAX_BATCH=0)"
        )
    if not batch:
        raise InvalidPayload("the batch is empty: send at least one request")
    if len(batch) > most:
        raise InvalidPayload(
            f"the batch holds {len(batch):,} operations, above the limit of {most:,} "
            "(IDGRAPH_GRAPHQL_MAX_BATCH): send it in parts"
        )
    for index, item in enumerate(batch):
        _check_request(item, f"batch[{index}]: ")


def _check_request(envelope: object, where: str = "") -> None:
    if not isinstance(envelope, dict):
        raise InvalidPayload(f'{where}a GraphQL request is a JSON object: {{"query": "..."}}')
    for name, kinds, expected in _GRAPHQL_FIELDS:
        if name in envelope and not isinstance(envelope[name], kinds):
            raise InvalidPayload(f"{where}'{name}' must be {expected} (GraphQL over HTTP)")
    if envelope.get("query") == "":
        # Not "no query": with a persisted query's hash it would run the hash's text.
        raise InvalidPayload(
            f"{where}'query' is empty: send the query text, or leave it out and send "
            "the hash of a persisted query (extensions.persistedQuery)"
        )
    for name in ("query", "variables", "operationName", "extensions"):
        _refuse_lone_surrogates(envelope.get(name), f"{where}{name}")
    persisted = (envelope.get("extensions") or {}).get("persistedQuery", {})
    if not isinstance(persisted, dict):
        raise InvalidPayload(
            f"{where}'extensions.persistedQuery' must be an object: "
            '{"version": 1, "sha256Hash": "<hex>"}'
        )


_GRAPHQL_FIELDS: tuple[tuple[str, type | tuple[type, ...], str], ...] = (
    ("query", str, "a string"),
    ("variables", (dict, type(None)), "an object or null"),
    ("operationName", (str, type(None)), "a string or null"),
    ("extensions", (dict, type(None)), "an object or null"),
)


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _refuse_lone_surrogates(value: object, where: str) -> None:
    """400 for a lone surrogate anywhere in a decoded request value: JSON lets one through
    as an unpaired ``\\ud800`` escape, but it is not text, and no store or encoder takes it
    (a variable holding one would fail the field that reads it). The place is named, never
    the value."""
    found = _surrogate_at(value, where)
    if found is not None:
        raise InvalidPayload(
            f"{printable(found)} holds a lone surrogate (a \\ud800-\\udfff escape without "
            "its pair), which is not text"
        )


def _surrogate_at(value: object, where: str) -> str | None:
    if isinstance(value, str):
        return where if _SURROGATE.search(value) else None
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _surrogate_at(item, f"{where}[{index}]")
            if found is not None:
                return found
    if isinstance(value, dict):
        for name, item in value.items():
            path = f"{where}.{name}"
            if _SURROGATE.search(name):
                return path
            found = _surrogate_at(item, path)
            if found is not None:
                return found
    return None
