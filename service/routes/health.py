"""Liveness and readiness probes: no token needed, and nothing said to the anonymous
caller beyond up or not; the store's details (backend, location, schema version, the
error) need the ``admin`` scope."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from identity.errors import StoreError
from identity.graph import IdentityGraph
from service.auth import ADMIN, Principal, optional_principal
from service.deps import get_graph

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "The store does not answer"}})
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
        body["store"] = health
    return JSONResponse(body, status_code=200 if ready else 503)
