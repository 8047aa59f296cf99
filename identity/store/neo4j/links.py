"""Record-to-record links: ``(:Record)-[:LINK]->(:Record)``, one per (a, b, type, matcher)."""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from identity.model import EncodedLink, Link, LinkType, RecordId
from identity.store.changes import dumps, keyset_pages, unique
from identity.store.neo4j.connection import Area, Row, Statements
from identity.store.ports import LinkPort


def link_of(row: Row) -> Link:
    """The link a statement row describes (``a``, ``b``, ``type``, ``matcher``, ``weight``,
    ``evidence`` as JSON text)."""
    return Link(
        int(row["a"]),
        int(row["b"]),
        LinkType(row["type"]),
        row["matcher"],
        float(row["weight"]),
        json.loads(row["evidence"]),
    )


def links_of_record(row: Row, evidence: bool = True) -> list[Link]:
    """The links of a page row holding record ``a`` and the links it is the lower end of
    (``links``: ``b``, ``type``, ``matcher``, ``weight``, ``evidence``), in key order;
    ``evidence=False`` leaves evidence empty (the statement need not return it)."""
    a = int(row["a"])
    found = [
        Link(
            a,
            int(link["b"]),
            LinkType(link["type"]),
            link["matcher"],
            float(link["weight"]),
            json.loads(link["evidence"]) if evidence else {},
        )
        for link in row["links"]
    ]
    return sorted(found, key=lambda x: (x.b, x.type.value, x.matcher))


def _link_rows(links: Sequence[Link]) -> list[dict[str, Any]]:
    # One row per (a, b, type, matcher), the last given winning, as the embedded store's
    # upsert leaves it: put_links finds existing links before any row of its batch adds one.
    rows = {
        (link.a, link.b, link.type.value, link.matcher): {
            "a": link.a,
            "b": link.b,
            "type": link.type.value,
            "matcher": link.matcher,
            "weight": float(link.weight),
            "evidence": dumps(link.evidence),
        }
        for link in links
    }
    return list(rows.values())


class Neo4jLinks(Area, LinkPort):
    """Links of every type between records."""

    def of(
        self,
        record_ids: Collection[RecordId],
        types: Collection[LinkType] | None = None,
        evidence: bool = True,
    ) -> list[Link]:
        ids = unique(record_ids)
        wanted = None if types is None else sorted({LinkType(t).value for t in types})
        rows = self._db.read(
            "links.of",
            lambda s: s.batched("links_of", "ids", ids, types=wanted, evidence=evidence),
        )
        links = {
            (int(row["a"]), int(row["b"]), row["type"], row["matcher"]): link_of(row)
            for row in rows
        }
        # Batches of ids can find the same link twice; order as one statement would.
        return [links[k] for k in sorted(links)]

    def scan(self, types: Collection[LinkType], batch_size: int = 50_000) -> Iterator[list[Link]]:
        wanted = sorted({LinkType(t).value for t in types})

        def fetch(after: int) -> list[Row]:
            return self._db.read(
                "links.scan",
                lambda s: s.run("links_scan", after=after, limit=batch_size, types=wanted),
            )

        # Pages of records, each with the links it is the lower end of (as copy.links).
        for rows in keyset_pages(fetch, lambda row: int(row["a"]), 0, batch_size):
            page = [link for row in rows for link in links_of_record(row, evidence=False)]
            if page:
                yield page

    def of_type(
        self, type: LinkType, after: tuple[RecordId, RecordId] | None = None, limit: int = 100
    ) -> list[Link]:
        # Record ids start at 1, so (0, 0) is before every link.
        after_a, after_b = after or (0, 0)
        rows = self._db.read(
            "links.of_type",
            lambda s: s.run(
                "links_of_type",
                type=LinkType(type).value,
                after_a=after_a,
                after_b=after_b,
                limit=limit,
            ),
        )
        return [link_of(row) for row in rows]

    def put(self, links: Sequence[Link]) -> None:
        rows = _link_rows(links)
        self._db.write("links.put", lambda s: s.batched("put_links", "rows", rows))

    def replace(
        self, record_ids: Collection[RecordId], matcher: str, links: Sequence[Link]
    ) -> None:
        ids = unique(record_ids)
        rows = _link_rows(links)

        def work(s: Statements) -> None:
            s.batched("delete_matcher_links", "ids", ids, matcher=matcher)
            s.batched("put_links", "rows", rows)

        self._db.write("links.replace", work)

    def replace_encoded(
        self, record_ids: Collection[RecordId], matcher: str, links: Sequence[EncodedLink]
    ) -> None:
        ids = unique(record_ids)
        # One row per (a, b, type), the last given winning, as _link_rows keeps them.
        rows = list(
            {
                (min(x.a, x.b), max(x.a, x.b), LinkType(x.type).value): {
                    "a": min(x.a, x.b),
                    "b": max(x.a, x.b),
                    "type": LinkType(x.type).value,
                    "matcher": matcher,
                    "weight": float(x.weight),
                    "evidence": x.evidence,
                }
                for x in links
            }.values()
        )

        def work(s: Statements) -> None:
            s.batched("delete_matcher_links", "ids", ids, matcher=matcher)
            s.batched("put_links", "rows", rows)

        self._db.write("links.replace", work)

    def delete(
        self, pairs: Collection[tuple[RecordId, RecordId]], types: Collection[LinkType]
    ) -> int:
        rows = [
            {"a": min(a, b), "b": max(a, b), "type": LinkType(t).value}
            for a, b in pairs
            for t in types
        ]
        found = self._db.write("links.delete", lambda s: s.batched("delete_links", "rows", rows))
        return sum(int(row["deleted"]) for row in found)

    def of_type_by_weight(
        self,
        type: LinkType,
        after: tuple[float, RecordId, RecordId] | None = None,
        limit: int = 100,
        without: Collection[LinkType] = (),
    ) -> list[Link]:
        # Record ids start at 1 and weights are finite: (+inf, 0, 0) is before every link.
        after_weight, after_a, after_b = after or (math.inf, 0, 0)
        rows = self._db.read(
            "links.of_type_by_weight",
            lambda s: s.run(
                "links_of_type_by_weight",
                type=LinkType(type).value,
                after_weight=float(after_weight),
                after_a=after_a,
                after_b=after_b,
                without=sorted({LinkType(t).value for t in without}),
                limit=limit,
            ),
        )
        return [link_of(row) for row in rows]

    def count_of_type(self, type: LinkType, without: Collection[LinkType] = ()) -> int:
        rows = self._db.read(
            "links.count_of_type",
            lambda s: s.run(
                "count_links_of_type",
                type=LinkType(type).value,
                without=sorted({LinkType(t).value for t in without}),
            ),
        )
        return int(rows[0]["count"])
