"""The one page type of the GraphQL API: a Relay-style cursor connection.

Every long list (a journey, a search, the review queue, the audit log, segment members, the
change feeds) is a ``Connection[T]``, read as ``edges { node cursor } nodes pageInfo {
hasNextPage endCursor }`` and paged with ``first``/``after``; strawberry names each
specialisation after its node (``Connection[Event]`` is ``EventConnection``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, Self, TypeVar

import strawberry

NodeType = TypeVar("NodeType")


@strawberry.type(description="Where a page ends and whether more items follow it.")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="More items follow: pass endCursor as `after` for them. On a change feed, "
        "false means none are waiting now; pull again later from endCursor."
    )
    end_cursor: str | None = strawberry.field(
        description="The cursor of the page's last item, to pass as `after`. On a change feed "
        "it is never null (an empty page gives back the cursor it was asked after), so a job "
        "can keep it between pulls."
    )


@strawberry.type(description="An item of a page and its cursor.")
class Edge(Generic[NodeType]):
    cursor: str = strawberry.field(description="Pass as `after` for the items after this one.")
    node: NodeType


@strawberry.type(description="A page of a list: pass pageInfo.endCursor as `after` for the next.")
class Connection(Generic[NodeType]):
    edges: list[Edge[NodeType]]
    nodes: list[NodeType] = strawberry.field(description="The page's items, without cursors.")
    page_info: PageInfo

    @classmethod
    def of(
        cls,
        items: Iterable[tuple[str, NodeType]],
        *,
        has_next_page: bool,
        end_cursor: str | None,
        **extra: Any,
    ) -> Self:
        """A page of ``(cursor, node)`` pairs; ``extra`` fills a subclass's own fields."""
        edges = [Edge(cursor=cursor, node=node) for cursor, node in items]
        return cls(
            edges=edges,
            nodes=[edge.node for edge in edges],
            page_info=PageInfo(has_next_page=has_next_page, end_cursor=end_cursor),
            **extra,
        )
