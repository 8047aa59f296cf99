"""Links between records (LinkPort) in SQLite."""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from identity.model import EncodedLink, Link, LinkType, RecordId
from identity.store.changes import dumps, keyset_pages
from identity.store.ports import LinkPort
from identity.store.sqlite.connection import Connection
from identity.store.sqlite.statements import statement


def _sql(name: str) -> str:
    return statement("links", name)


def stored_link(row: tuple[Any, ...]) -> Link:
    """A row of the link columns (a, b, type, matcher, weight, evidence) as a Link."""
    a, b, kind, matcher, weight, evidence = row
    return Link(a, b, LinkType(kind), matcher, weight, json.loads(evidence))


def _link_rows(links: Sequence[Link]) -> list[tuple[Any, ...]]:
    return [
        (link.a, link.b, link.type.value, link.matcher, link.weight, dumps(link.evidence))
        for link in links
    ]


class SQLiteLinks(LinkPort):
    def __init__(self, db: Connection) -> None:
        self._db = db

    def of(
        self,
        record_ids: Collection[RecordId],
        types: Collection[LinkType] | None = None,
        evidence: bool = True,
    ) -> list[Link]:
        wanted = None if types is None else {LinkType(t) for t in types}
        params = {"ids": dumps(list(record_ids)), "evidence": evidence}
        with self._db.reading("links.of") as conn:
            rows = conn.execute(_sql("links_of"), params).fetchall()
        return [
            Link(a, b, LinkType(kind), matcher, weight, json.loads(found) if evidence else {})
            for a, b, kind, matcher, weight, found in rows
            if wanted is None or kind in wanted
        ]

    def scan(self, types: Collection[LinkType], batch_size: int = 50_000) -> Iterator[list[Link]]:
        wanted = dumps(sorted({LinkType(t).value for t in types}))

        def fetch(after: tuple[Any, ...]) -> list[tuple[Any, ...]]:
            with self._db.reading("links.scan") as conn:
                found: list[tuple[Any, ...]] = conn.execute(
                    _sql("links_scan"), (*after, wanted, batch_size)
                ).fetchall()
                return found

        pages = keyset_pages(fetch, lambda row: tuple(row[:4]), (0, 0, "", ""), batch_size)
        for rows in pages:
            yield [
                Link(a, b, LinkType(kind), matcher, weight) for a, b, kind, matcher, weight in rows
            ]

    def of_type(
        self, type: LinkType, after: tuple[RecordId, RecordId] | None = None, limit: int = 100
    ) -> list[Link]:
        a, b = after or (0, 0)
        with self._db.reading("links.of_type") as conn:
            rows = conn.execute(
                _sql("links_of_type"), (LinkType(type).value, a, b, limit)
            ).fetchall()
        return [stored_link(row) for row in rows]

    def put(self, links: Sequence[Link]) -> None:
        with self._db.transaction("links.put"):
            self._db.executemany(_sql("put_link"), _link_rows(links))

    def replace(
        self, record_ids: Collection[RecordId], matcher: str, links: Sequence[Link]
    ) -> None:
        with self._db.transaction("links.replace"):
            self._db.execute(
                _sql("delete_matcher_links"), {"matcher": matcher, "ids": dumps(list(record_ids))}
            )
            self._db.executemany(_sql("put_link"), _link_rows(links))

    def replace_encoded(
        self, record_ids: Collection[RecordId], matcher: str, links: Sequence[EncodedLink]
    ) -> None:
        rows = [
            (min(x.a, x.b), max(x.a, x.b), LinkType(x.type).value, matcher, x.weight, x.evidence)
            for x in links
        ]
        with self._db.transaction("links.replace"):
            self._db.execute(
                _sql("delete_matcher_links"), {"matcher": matcher, "ids": dumps(list(record_ids))}
            )
            self._db.executemany(_sql("put_link"), rows)

    def delete(
        self, pairs: Collection[tuple[RecordId, RecordId]], types: Collection[LinkType]
    ) -> int:
        rows = [(min(a, b), max(a, b), LinkType(t).value) for a, b in pairs for t in types]
        with self._db.transaction("links.delete"):
            before = self._db.total_changes()
            self._db.executemany(_sql("delete_link"), rows)
            return self._db.total_changes() - before

    def of_type_by_weight(
        self,
        type: LinkType,
        after: tuple[float, RecordId, RecordId] | None = None,
        limit: int = 100,
        without: Collection[LinkType] = (),
    ) -> list[Link]:
        weight, a, b = after or (math.inf, 0, 0)
        params = {
            "type": LinkType(type).value,
            "weight": float(weight),
            "a": a,
            "b": b,
            "without": dumps(sorted({LinkType(t).value for t in without})),
            "limit": limit,
        }
        with self._db.reading("links.of_type_by_weight") as conn:
            rows = conn.execute(_sql("links_of_type_by_weight"), params).fetchall()
        return [stored_link(row) for row in rows]

    def count_of_type(self, type: LinkType, without: Collection[LinkType] = ()) -> int:
        params = {
            "type": LinkType(type).value,
            "without": dumps(sorted({LinkType(t).value for t in without})),
        }
        with self._db.reading("links.count_of_type") as conn:
            (count,) = conn.execute(_sql("count_of_type"), params).fetchone()
        return int(count)
