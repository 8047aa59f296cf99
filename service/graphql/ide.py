"""GraphiQL from the package's own files: strawberry's page loads React and GraphiQL from
a CDN, which leaves it blank on a machine without internet.

The page (``service/static/graphiql/index.html``) names the vendored scripts and styles
under ``<prefix>/static/``; only the files in :data:`ASSETS` are served there.
"""

from __future__ import annotations

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


class LocalGraphiQLRouter(GraphQLRouter[Context, None]):
    """strawberry's GraphQL route, its GraphiQL page rendered from our HTML with the assets
    served beside it, at ``<prefix>/static/<name>``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **{**kwargs, "graphql_ide": "graphiql"})
        self._page = (STATIC / "index.html").read_text(encoding="utf-8")
        self._assets = {name: (STATIC / name).read_bytes() for name in ASSETS}
        self.add_api_route("/static/{name}", self._asset, methods=["GET"], include_in_schema=False)

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        # root_path: behind a proxy that mounts the API under a path, links follow it.
        static = f"{request.scope.get('root_path', '')}{self.prefix}/static"
        return HTMLResponse(self._page.replace("{static}", static))

    async def _asset(self, name: str) -> Response:
        if name not in self._assets:
            raise HTTPException(status_code=404, detail=f"no GraphiQL asset {name!r}")
        # The names carry no version, so a browser revalidates after an hour.
        return Response(
            self._assets[name],
            media_type=ASSETS[name],
            headers={"Cache-Control": "public, max-age=3600"},
        )
