"""GraphiQL from the package's own files: strawberry's page loads React and GraphiQL from
a CDN, which leaves it blank on a machine without internet.

The page (``service/static/graphiql/index.html``) names the vendored scripts and styles
under ``<prefix>/static/``; only the files in :data:`ASSETS` are served there.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from strawberry.fastapi import GraphQLRouter

from service.graphql.context import Context

STATIC = files("service") / "static" / "graphiql"
ASSETS = {
    "graphiql.min.css": "text/css; charset=utf-8",
    "graphiql.min.js": "text/javascript; charset=utf-8",
    "react.production.min.js": "text/javascript; charset=utf-8",
    "react-dom.production.min.js": "text/javascript; charset=utf-8",
}
"""The files the page loads, and the content type each is served with."""


@cache
def _read(name: str) -> bytes:
    # Read once per process, when first asked for (every app the process builds shares it).
    return (STATIC / name).read_bytes()


class LocalGraphiQLRouter(GraphQLRouter[Context, None]):
    """strawberry's GraphQL route, its GraphiQL page rendered from our HTML with the assets
    served beside it, at ``<prefix>/static/<name>``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, "graphql_ide": "graphiql"})
        self.add_api_route("/static/{name}", self._asset, methods=["GET"], include_in_schema=False)

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        # root_path: behind a proxy that mounts the API under a path, links follow it.
        static = f"{request.scope.get('root_path', '')}{self.prefix}/static"
        return HTMLResponse(_read("index.html").decode("utf-8").replace("{static}", static))

    async def _asset(self, name: str) -> Response:
        if name not in ASSETS:
            raise HTTPException(status_code=404, detail=f"no GraphiQL asset {name!r}")
        # The names carry no version, so a browser revalidates after an hour.
        return Response(
            _read(name),
            media_type=ASSETS[name],
            headers={"Cache-Control": "public, max-age=3600"},
        )
