"""The steward console: a browser page built on the GraphQL API alone (docs/console.md).

Its files are built from ``console/`` (npm, pinned by its lockfile) into
``service/static/console/`` and ship in the Python package, so serving it needs no
Node.js. The page is public (a browser cannot send a token for it); every query it makes
carries the steward's token, and the API checks scopes and masks values as for any client.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

STATIC = files("service") / "static" / "console"
ASSETS = {
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "THIRD-PARTY-LICENSES.txt": "text/plain; charset=utf-8",
}
"""The files the page loads, and the content type each is served with."""

# The page runs only its own script: no inline script, nothing from another origin, and it
# cannot be framed (clickjacking a steward's merge button).
_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)
_HEADERS = {
    "Content-Security-Policy": _POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(prefix="/console", include_in_schema=False)


@cache
def _read(name: str) -> bytes:
    return (STATIC / name).read_bytes()


@router.get("")
async def console_root(request: Request) -> RedirectResponse:
    # Relative asset paths need the trailing slash.
    return RedirectResponse(f"{request.scope.get('root_path', '')}/console/", status_code=308)


@router.get("/")
async def console_page(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    page = (
        _read("index.html")
        .decode("utf-8")
        .replace("{assets}", f"{root}/console/assets")
        .replace("{graphql}", f"{root}/graphql")
    )
    return HTMLResponse(page, headers=_HEADERS)


@router.get("/assets/{name}")
async def console_asset(name: str) -> Response:
    if name not in ASSETS:
        raise HTTPException(status_code=404, detail=f"no console asset {name!r}")
    # The names carry no version: revalidate (the files change with the package).
    return Response(_read(name), media_type=ASSETS[name], headers=_HEADERS)
