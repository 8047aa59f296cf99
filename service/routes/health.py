"""Liveness and readiness probes: no token needed, and nothing said to the anonymous
caller beyond up or not; the store's details (backend, location, schema version, the
error) need the ``admin`` scope."""

from __future__ import annotations

import dataclasses
from typing import Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from identity.errors import StoreError
from identity.graph import IdentityGraph
from service.auth import ADMIN, Principal, optional_principal
from service.deps import get_graph

router = APIRouter(tags=["health"])


class StoreHealthBody(BaseModel):
    ok: bool
    backend: str
    detail: str


class Readiness(BaseModel):
    """The readiness answer, ready (200) or not (503)."""

    status: Literal["ready", "unavailable"]
    store: StoreHealthBody | None = None
    """Only for a caller with the ``admin`` scope."""


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness,
    response_model_exclude_none=True,
    responses={503: {"model": Readiness, "description": "The store does not answer"}},
    # A token is optional (the empty requirement): without one, only ready or not.
    openapi_extra={"security": [{}]},
)
def readyz(
    graph: IdentityGraph = Depends(get_graph),
    principal: Principal | None = Depends(optional_principal),
) -> JSONResponse:
    """The store answers a trivial query; with an ``admin`` token, the store's details."""
    try:
        health = dataclasses.asdict(graph.store.health())
    except StoreError as error:
        health = {"ok": False, "backend": graph.store.backend, "detail": str(error)}
    ready = bool(health["ok"])
    body: dict[str, object] = {"status": "ready" if ready else "unavailable"}
    if principal is not None and principal.has(ADMIN):
        if ready and not graph.views.fresh():
            health["detail"] = (
                f"{health['detail']}; the profile read model is stale: run "
                "`idgraph profiles rebuild`"
            )
        body["store"] = health
    return JSONResponse(body, status_code=200 if ready else 503)
