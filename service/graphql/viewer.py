"""Who is calling: the token's name and scopes, so a client (the steward console) can say
which values come back masked and hide actions the token may not take."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError

from service.auth import unauthenticated
from service.graphql.context import Info


@strawberry.type(description="The caller: the token's name and the scopes it grants.")
class Viewer:
    name: str
    scopes: list[str] = strawberry.field(
        description="Scope names, sorted; `admin` grants every scope."
    )


def resolve_viewer(info: Info) -> Viewer:
    principal = info.context.principal
    if principal is None:
        raise GraphQLError(str(unauthenticated().detail), extensions={"code": "UNAUTHENTICATED"})
    return Viewer(name=principal.name, scopes=sorted(principal.scopes))


@strawberry.type
class ViewerQueries:
    viewer: Viewer = strawberry.field(
        resolver=resolve_viewer, description="The caller: any valid token may ask."
    )
