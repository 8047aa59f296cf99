"""The one place domain errors become HTTP responses and GraphQL error codes.

Every HTTP error body is ``{"error": {"code": "...", "message": "..."}}``; GraphQL errors
carry the same code in ``extensions.code``.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from graphql import GraphQLError
from starlette.exceptions import HTTPException

from identity.errors import (
    AmbiguousIdentifier,
    ConfigError,
    IdgraphError,
    InvalidArgument,
    InvalidCursor,
    InvalidIdentifier,
    InvalidPayload,
    InvalidSegment,
    StewardConflict,
    StoreError,
    StoreUnavailable,
    UnknownAction,
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
    (UnknownSegment, 404, "UNKNOWN_SEGMENT"),
    (UnknownRecord, 404, "UNKNOWN_RECORD"),
    (UnknownAction, 404, "UNKNOWN_ACTION"),
    (StewardConflict, 409, "STEWARD_CONFLICT"),
    (InvalidSegment, 422, "INVALID_SEGMENT"),
    (InvalidCursor, 400, "INVALID_CURSOR"),
    (InvalidArgument, 400, "INVALID_ARGUMENT"),
    (InvalidPayload, 400, "INVALID_PAYLOAD"),
    (InvalidIdentifier, 400, "INVALID_IDENTIFIER"),
    (AmbiguousIdentifier, 409, "AMBIGUOUS_IDENTIFIER"),
    (ConfigError, 422, "INVALID_CONFIG"),
    (StoreUnavailable, 503, "STORE_UNAVAILABLE"),
    (StoreError, 503, "STORE_ERROR"),
)


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


def graphql_error(error: IdgraphError) -> GraphQLError:
    """A domain error as a GraphQL error with ``extensions.code`` (and ``argument`` when
    the error names the argument at fault)."""
    extensions: dict[str, object] = {"code": classify(error)[1]}
    if isinstance(error, InvalidArgument) and error.argument:
        extensions["argument"] = error.argument
    return GraphQLError(str(error), original_error=error, extensions=extensions)


def error_body(code: str, message: str, **extra: object) -> dict[str, object]:
    return {"error": {"code": code, "message": message, **extra}}


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IdgraphError)
    status, code = classify(exc)
    if status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc)
    return JSONResponse(error_body(code, str(exc)), status_code=status)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = getattr(exc, "code", None) or HTTPStatus(exc.status_code).name
    return JSONResponse(
        error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
    )


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
