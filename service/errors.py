"""The one place domain errors become HTTP responses and GraphQL error codes.

Every HTTP error body is ``{"error": {"code": "...", "message": "..."}}`` (:class:`ErrorBody`,
which the OpenAPI document names for every error status a route answers); GraphQL errors
carry the same code in ``extensions.code``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from graphql import GraphQLError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.routing import Match

from identity.destinations import UnknownDestination
from identity.errors import (
    AmbiguousIdentifier,
    ConfigError,
    IdgraphError,
    InvalidArgument,
    InvalidCursor,
    InvalidIdentifier,
    InvalidPayload,
    InvalidSegment,
    NothingToUndo,
    StewardConflict,
    StoreBusy,
    StoreError,
    StoreUnavailable,
    TimeBudgetExceeded,
    UnknownAction,
    UnknownIdentifierKind,
    UnknownProfile,
    UnknownRecord,
    UnknownSegment,
    UnknownSource,
)

log = logging.getLogger(__name__)

# Most specific first: the first class an error is an instance of decides.
DOMAIN_ERRORS: tuple[tuple[type[IdgraphError], int, str], ...] = (
    (UnknownSource, 404, "UNKNOWN_SOURCE"),
    (UnknownProfile, 404, "UNKNOWN_PROFILE"),
    (UnknownDestination, 404, "UNKNOWN_DESTINATION"),
    (UnknownSegment, 404, "UNKNOWN_SEGMENT"),
    (UnknownRecord, 404, "UNKNOWN_RECORD"),
    (UnknownAction, 404, "UNKNOWN_ACTION"),
    (StewardConflict, 409, "STEWARD_CONFLICT"),
    (NothingToUndo, 409, "NOTHING_TO_UNDO"),
    (InvalidSegment, 422, "INVALID_SEGMENT"),
    (InvalidCursor, 400, "INVALID_CURSOR"),
    (UnknownIdentifierKind, 400, "UNKNOWN_IDENTIFIER_KIND"),
    (InvalidArgument, 400, "INVALID_ARGUMENT"),
    (InvalidPayload, 400, "INVALID_PAYLOAD"),
    (InvalidIdentifier, 400, "INVALID_IDENTIFIER"),
    (AmbiguousIdentifier, 409, "AMBIGUOUS_IDENTIFIER"),
    (ConfigError, 422, "INVALID_CONFIG"),
    (TimeBudgetExceeded, 503, "TIMEOUT"),
    (StoreBusy, 503, "STORE_BUSY"),
    (StoreUnavailable, 503, "STORE_UNAVAILABLE"),
    (StoreError, 503, "STORE_ERROR"),
)


class RequestProblem(BaseModel):
    """One problem with a request's parameters (never the value sent: it may be personal)."""

    type: str = Field(description="The kind of problem, e.g. missing", examples=["missing"])
    loc: list[str | int] = Field(description="Where: the part and the parameter's name")
    msg: str


class ErrorDetail(BaseModel):
    """What went wrong: a stable machine-readable ``code`` and a message for people."""

    model_config = ConfigDict(extra="allow")

    code: str = Field(
        description="UNKNOWN_SOURCE, INVALID_PAYLOAD, UNAUTHENTICATED, ... (docs/api.md)",
        examples=["UNKNOWN_SOURCE"],
    )
    message: str = Field(description="What is wrong and how to fix it")
    field: str | None = Field(
        default=None, description="The field of a mapping or setting the error is about"
    )
    details: list[RequestProblem] | None = Field(
        default=None, description="Each problem, for INVALID_REQUEST"
    )


class ErrorBody(BaseModel):
    """The body of every HTTP error this service answers."""

    error: ErrorDetail


ERROR_STATUSES: Mapping[int, str] = {
    400: "The request cannot be used as sent (INVALID_PAYLOAD, INVALID_ARGUMENT, "
    "INVALID_CURSOR, INVALID_IDENTIFIER, BAD_REQUEST)",
    401: "No valid API token: send 'Authorization: Bearer TOKEN' (UNAUTHENTICATED)",
    403: "The token lacks the scope the message names (FORBIDDEN)",
    404: "No such thing (UNKNOWN_SOURCE, UNKNOWN_PROFILE, UNKNOWN_SEGMENT, ...)",
    409: "Contradicts the graph's state (STEWARD_CONFLICT, AMBIGUOUS_IDENTIFIER)",
    413: "The body is over IDGRAPH_MAX_BODY_BYTES: send it in parts (PAYLOAD_TOO_LARGE)",
    422: "A parameter is missing or malformed (INVALID_REQUEST, with details), or a "
    "document is invalid (INVALID_CONFIG, INVALID_SEGMENT)",
    429: "The token is over its request rate: retry after the seconds Retry-After gives "
    "(RATE_LIMITED)",
    503: "The store is busy with other writes: the write was not stored, send the request "
    "again after Retry-After seconds (STORE_BUSY); or the store failed or does not answer, "
    "retry later (STORE_UNAVAILABLE, STORE_ERROR)",
}


def error_responses(
    *statuses: int, detail: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route answering these error statuses, each with the
    :class:`ErrorBody` schema; ``detail`` says what a status means on this route."""
    responses: dict[int | str, dict[str, Any]] = {}
    if 401 in statuses and 429 not in statuses:
        statuses = (*statuses, 429)  # every authenticated request counts against a rate
    for status in sorted(statuses):
        response: dict[str, Any] = {
            "model": ErrorBody,
            "description": (detail or {}).get(status, ERROR_STATUSES[status]),
        }
        if status == 503:
            response["headers"] = {
                "Retry-After": {
                    "description": "With STORE_BUSY: seconds to wait before sending the "
                    "request again",
                    "required": False,
                    "schema": {"type": "integer"},
                }
            }
        if status == 401:
            response["headers"] = {
                "WWW-Authenticate": {
                    "description": "Bearer: the scheme to authenticate with",
                    "required": True,
                    "schema": {"type": "string"},
                }
            }
        if status == 429:
            response["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait before retrying",
                    "required": True,
                    "schema": {"type": "integer"},
                }
            }
        responses[status] = response
    return responses


class ApiError(HTTPException):
    """An HTTP error with its machine-readable code."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, message, headers)
        self.code = code


def classify(error: IdgraphError) -> tuple[int, str]:
    """HTTP status and error code of a domain error."""
    for cls, status, code in DOMAIN_ERRORS:
        if isinstance(error, cls):
            return status, code
    return 500, "INTERNAL"


def _fields(error: IdgraphError) -> dict[str, object]:
    """What a client can act on besides the message: the field of a mapping or setting a
    configuration error names, the argument an argument error names."""
    found: dict[str, object] = {}
    field = getattr(error, "field", None)
    if isinstance(field, str) and field:
        found["field"] = field
    if isinstance(error, InvalidArgument) and error.argument:
        found["argument"] = error.argument
    return found


def _http_hint(error: IdgraphError) -> str:
    """What to do about a domain error, said in HTTP's terms (the CLI says it in its own)."""
    if isinstance(error, UnknownSource):
        return f": register its mapping with PUT /v1/sources/{error.source}"
    return ""


def graphql_error(error: IdgraphError) -> GraphQLError:
    """A domain error as a GraphQL error with ``extensions.code`` (and ``field`` or
    ``argument`` when it names one)."""
    extensions = {"code": classify(error)[1], **_fields(error)}
    if isinstance(error, StoreBusy):
        extensions["retryAfter"] = error.retry_after
    return GraphQLError(str(error), original_error=error, extensions=extensions)


def error_body(code: str, message: str, **extra: object) -> dict[str, object]:
    return {"error": {"code": code, "message": message, **extra}}


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IdgraphError)
    status, code = classify(exc)
    if isinstance(exc, StoreBusy):  # load, not a failure: the client is told to retry
        log.warning("%s %s refused: %s", request.method, request.url.path, exc)
    elif status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc)
    body = error_body(code, f"{exc}{_http_hint(exc)}", **_fields(exc))
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, StoreBusy) else None
    return JSONResponse(body, status_code=status, headers=headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = getattr(exc, "code", None) or HTTPStatus(exc.status_code).name
    headers = exc.headers
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
    return JSONResponse(
        error_body(code, str(exc.detail)), status_code=exc.status_code, headers=headers
    )


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path: Starlette names only the
    first matching route's, and ``/graphql`` has one route for GET and one for POST."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    ]


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Without the input: it may hold personal data.
    details = jsonable_encoder([{k: e[k] for k in ("type", "loc", "msg")} for e in exc.errors()])
    first = details[0] if details else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    message = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
    return JSONResponse(error_body("INVALID_REQUEST", message, details=details), status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(IdgraphError, _domain_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
