"""The profile read model (ProfileViewPort) in SQLite: one row per live profile, its
documents as JSON text, read by an export through JSON paths so that only the columns
asked for are decoded."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from operator import itemgetter
from typing import Any

from identity.model import JSONValue, ProfileId, ProfileViewRow, ViewColumn
from identity.store.changes import (
    PROFILE_VIEW_FIELDS,
    profile_view_from,
    profile_view_params,
    view_document_values,
)
from identity.store.ports import ProfileViewPort
from identity.store.sqlite.connection import Connection
from identity.store.sqlite.statements import named_row, statement

TRAIT_COLUMNS = frozenset(
    {"first_seen", "last_seen", "events", "event_counts", "orders", "order_value", "last_order"}
)
"""The stored trait columns an export may read (their names are the SQL columns)."""


def _sql(name: str) -> str:
    return statement("profile_view", name)


def _json_key(name: str) -> str | None:
    """``name`` as a quoted JSON path step, or None when SQLite's path syntax cannot
    carry it (a double quote or backslash): the export then reads that column's document
    whole and picks the key in Python."""
    return None if '"' in name or "\\" in name else f'"{name}"'


class _Column:
    """How one export column is read: an SQL expression with its parameter, and what
    Python does with what it returns."""

    __slots__ = ("decode", "expression", "parameter")

    def __init__(self, column: ViewColumn) -> None:
        self.parameter: str | None = None
        self.decode = _as_is
        key = _json_key(column.name)
        if column.part == "trait":
            if column.name not in TRAIT_COLUMNS:
                raise ValueError(f"not a stored trait column: {column.name!r}")
            self.expression = f"v.{column.name}"
            if column.name == "event_counts":
                self.decode = _json_or_none
        elif key is None:
            raise ValueError(f"a JSON path cannot name {column.name!r}: read its document")
        elif column.part == "golden":
            # '->' gives JSON text (strings, numbers, lists and objects told apart).
            self.expression, self.parameter = "v.golden -> ?", f"$.{key}"
            self.decode = _json_or_none
        elif column.part == "linking":
            self.expression, self.parameter = "v.linking ->> ?", f"$.{key}[0]"
        elif column.part == "consent":
            self.expression, self.parameter = "v.consent ->> ?", f"$.{key}.granted"
            self.decode = _granted
        else:
            raise ValueError(f"unknown part of the read model: {column.part!r}")


def _as_is(value: Any) -> JSONValue:
    return value


def _json_or_none(value: Any) -> JSONValue:
    return None if value is None else json.loads(value)


def _granted(value: Any) -> JSONValue:
    return None if value is None else bool(value)


_DOCUMENTS = ("golden", "linking", "consent")
_WHOLE_FROM = 3
"""Columns of one document from which the export reads the document whole."""


class _PagePlan:
    """How an export page's rows become value tuples: the documents read whole (as one
    JSON array, one decode a row), the columns picked in SQL, and the order of the
    asked columns restored with one C-level pick, so that a row of thirty-odd columns
    costs a few comprehensions rather than a Python call per cell."""

    def __init__(self, columns: Sequence[ViewColumn]) -> None:
        # A document several columns read from (all fields: some twenty golden attributes)
        # is read and decoded once per row; a column or two are picked by JSON path.
        # So is the document of a column whose name a JSON path cannot spell.
        self.whole = [
            p
            for p in _DOCUMENTS
            if sum(c.part == p for c in columns) >= _WHOLE_FROM
            or any(c.part == p and _json_key(c.name) is None for c in columns)
        ]
        picked = [_Column(c) for c in columns if c.part not in self.whole]
        self.expressions = [c.expression for c in picked]
        if self.whole:
            documents = " || ',' || ".join(f"v.{part}" for part in self.whole)
            self.expressions.insert(0, f"'[' || {documents} || ']'")
        self.parameters = [c.parameter for c in picked if c.parameter is not None]
        self.names = [[c.name for c in columns if c.part == p] for p in self.whole]
        self.decoders = [c.decode for c in picked]
        self.plain = all(decode is _as_is for decode in self.decoders)
        # The values come out grouped (each whole document's columns, then the picked
        # ones): where each asked column sits in that order.
        grouped = [c for p in self.whole for c in columns if c.part == p]
        grouped += [c for c in columns if c.part not in self.whole]
        order = [grouped.index(c) for c in columns]
        # Out of order means two columns or more, so the pick gives a tuple.
        self.pick = None if order == list(range(len(order))) else itemgetter(*order)

    def values(self, row: Sequence[Any]) -> tuple[JSONValue, ...]:
        """The asked columns' values from one result row (after its id and held flag)."""
        values: list[Any] = []
        rest = row[2:]
        if self.whole:
            rest = row[3:]
            for part, document, names in zip(
                self.whole, json.loads(row[2]), self.names, strict=True
            ):
                values += view_document_values(part, document, names)
        if self.plain:
            values += rest
        else:
            values += [decode(value) for decode, value in zip(self.decoders, rest, strict=True)]
        picked: tuple[JSONValue, ...] = tuple(values) if self.pick is None else self.pick(values)
        return picked


class SQLiteProfileViews(ProfileViewPort):
    def __init__(self, db: Connection) -> None:
        self._db = db

    def put(self, rows: Sequence[ProfileViewRow]) -> None:
        if not rows:
            return
        with self._db.transaction("views.put"):
            self._db.executemany(_sql("put_views"), [profile_view_params(r) for r in rows])

    def delete(self, profile_ids: Collection[ProfileId]) -> None:
        if not profile_ids:
            return
        with self._db.transaction("views.delete"):
            self._db.execute(_sql("delete_views"), {"ids": json.dumps(sorted(profile_ids))})

    def get(self, profile_ids: Collection[ProfileId]) -> dict[ProfileId, ProfileViewRow]:
        if not profile_ids:
            return {}
        with self._db.reading("views.get") as conn:
            rows = conn.execute(
                _sql("get_views"), {"ids": json.dumps(sorted(set(profile_ids)))}
            ).fetchall()
        return {row[0]: profile_view_from(named_row(PROFILE_VIEW_FIELDS, row)) for row in rows}

    def scan_ids(self, batch_size: int = 10_000) -> Iterator[ProfileId]:
        for rows in self._db.pages("views.scan_ids", _sql("view_ids_page"), ("",), batch_size):
            yield from (pid for (pid,) in rows)

    def clear(self) -> int:
        with self._db.transaction("views.clear"):
            deleted: int = self._db.execute(_sql("clear_views")).rowcount
        return deleted

    def export_page(
        self,
        segment: str,
        columns: Sequence[ViewColumn],
        after: ProfileId | None = None,
        limit: int = 1000,
    ) -> list[tuple[ProfileId, tuple[JSONValue, ...] | None]]:
        plan = _PagePlan(columns)
        columns_sql = "".join(f", {e}" for e in plan.expressions)
        sql = _sql("export_page").replace("{columns}", columns_sql)
        with self._db.reading("views.export_page") as conn:
            rows = conn.execute(sql, (*plan.parameters, segment, after or "", limit)).fetchall()
        return [(row[0], plan.values(row) if row[1] else None) for row in rows]
