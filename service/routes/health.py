"""Liveness and readiness probes (no authentication)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from identity.errors import StoreError
from identity.graph import IdentityGraph
from service.deps import get_graph

router = APIRouter(tags=["health"])


class StoreHealthBody(BaseModel):
    ok: bool
    backend: str
    detail: str


class Readiness(BaseModel):
    """The readiness answer, ready (200) or not (503)."""

    status: Literal["ready", "unavailable"]
    store: StoreHealthBody


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "The store does not answer"}},
)
def readyz(graph: IdentityGraph = Depends(get_graph)) -> JSONResponse:
    """The store answers a trivial query."""
    try:
        health = dataclasses.asdict(graph.store.health())
    except StoreError as error:
        health = {"ok": False, "backend": graph.store.backend, "detail": str(error)}
    ready = bool(health["ok"])
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "store": health},
        status_code=200 if ready else 503,
    )
