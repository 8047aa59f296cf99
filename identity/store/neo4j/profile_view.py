"""The profile read model (ProfileViewPort) in Neo4j: one ``(:ProfileView {profile_id})``
projection node per live profile, its documents as JSON text and its trait facts as
properties. Neo4j has no JSON paths, so an export reads only the properties its columns
need and picks the keys in Python, decoding each document once per row."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from operator import itemgetter
from typing import Any

from identity.model import JSONValue, ProfileId, ProfileViewRow, ViewColumn
from identity.store.changes import profile_view_from, profile_view_params, view_document_values
from identity.store.neo4j.connection import Area, Statements, last
from identity.store.neo4j.cypher import statement
from identity.store.ports import ProfileViewPort

TRAIT_COLUMNS = frozenset(
    {"first_seen", "last_seen", "events", "event_counts", "orders", "order_value", "last_order"}
)
"""The stored trait properties an export may read."""
DOCUMENTS = {"golden": "golden", "linking": "linking", "consent": "consent"}
"""The JSON-text property each part of the read model is picked from."""
JSON_PROPERTIES = frozenset({*DOCUMENTS.values(), "event_counts"})
CLEAR_BATCH = 10_000
"""Nodes one statement of :meth:`Neo4jProfileViews.clear` deletes."""


def _property(column: ViewColumn) -> str:
    """The property a column is read from."""
    if column.part == "trait":
        if column.name not in TRAIT_COLUMNS:
            raise ValueError(f"not a stored trait column: {column.name!r}")
        return column.name
    if column.part not in DOCUMENTS:
        raise ValueError(f"unknown part of the read model: {column.part!r}")
    return DOCUMENTS[column.part]


class _Plan:
    """An export's columns as the properties to read (each once), and how a row's values
    come out of them: grouped by property (a comprehension over each document's keys),
    then put in the columns' order with one C-level pick, as the port says and the SQLite
    store returns."""

    __slots__ = ("groups", "pick", "properties")

    def __init__(self, columns: Sequence[ViewColumn]) -> None:
        self.properties: list[str] = []
        for column in columns:
            prop = _property(column)
            if prop not in self.properties:
                self.properties.append(prop)
        # Per property: its part ("trait" for a plain property) and the keys picked.
        self.groups: list[tuple[str, bool, list[str]]] = []
        grouped: list[ViewColumn] = []
        for prop in self.properties:
            mine = [c for c in columns if _property(c) == prop]
            grouped += mine
            self.groups.append((mine[0].part, prop in JSON_PROPERTIES, [c.name for c in mine]))
        order = [grouped.index(c) for c in columns]
        # Out of order means two columns or more, so the pick gives a tuple.
        self.pick = None if order == list(range(len(order))) else itemgetter(*order)

    def values(self, read: Sequence[Any]) -> tuple[JSONValue, ...]:
        values: list[Any] = []
        for (part, is_json, names), value in zip(self.groups, read, strict=True):
            if part == "trait":
                decoded = json.loads(value) if is_json and value is not None else value
                values += [decoded] * len(names)
                continue
            document = {} if value is None else json.loads(value)
            values += view_document_values(part, document, names)
        picked: tuple[JSONValue, ...] = tuple(values) if self.pick is None else self.pick(values)
        return picked


class Neo4jProfileViews(Area, ProfileViewPort):
    """Rows of the profile read model, one ``(:ProfileView)`` node each."""

    def put(self, rows: Sequence[ProfileViewRow]) -> None:
        if not rows:
            return
        # The sum as a float property, whatever number type it was computed as.
        params = [{**profile_view_params(r), "order_value": float(r.order_value)} for r in rows]
        self._db.write("views.put", lambda s: s.batched("put_profile_views", "rows", params))

    def delete(self, profile_ids: Collection[ProfileId]) -> None:
        ids = sorted(set(profile_ids))
        if not ids:
            return
        self._db.write("views.delete", lambda s: s.batched("delete_profile_views", "ids", ids))

    def get(self, profile_ids: Collection[ProfileId]) -> dict[ProfileId, ProfileViewRow]:
        ids = sorted(set(profile_ids))
        if not ids:
            return {}
        rows = self._db.read("views.get", lambda s: s.batched("get_profile_views", "ids", ids))
        return {row["profile_id"]: profile_view_from(row) for row in rows}

    def scan_ids(self, batch_size: int = 10_000) -> Iterator[ProfileId]:
        for rows in self._db.pages(
            "views.scan_ids",
            statement("profile_view_ids_page"),
            "",
            last("profile_id", str),
            batch_size,
        ):
            yield from (str(row["profile_id"]) for row in rows)

    def clear(self) -> int:
        def work(s: Statements) -> int:
            total = 0
            while True:
                deleted = int(s.run("clear_profile_views", limit=CLEAR_BATCH)[0]["deleted"])
                total += deleted
                if deleted < CLEAR_BATCH:
                    return total

        return self._db.write("views.clear", work)

    def export_page(
        self,
        segment: str,
        columns: Sequence[ViewColumn],
        after: ProfileId | None = None,
        limit: int = 1000,
    ) -> list[tuple[ProfileId, tuple[JSONValue, ...] | None]]:
        plan = _Plan(columns)
        rows = self._db.read(
            "views.export_page",
            lambda s: s.run(
                "export_profile_views",
                segment=segment,
                after=after or "",
                limit=limit,
                properties=plan.properties,
            ),
        )
        return [
            (str(row["profile_id"]), plan.values(row["values"]) if row["held"] else None)
            for row in rows
        ]
