"""The match index: each record's compared fields and blocking keys, kept on the graph."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence

from identity.model import MatchRow, RecordId
from identity.store.changes import dumps
from identity.store.neo4j.connection import Area, Row, Statements, last
from identity.store.neo4j.cypher import statement
from identity.store.ports import MatchIndexPort


def _match_row(row: Row) -> MatchRow:
    return MatchRow(int(row["record_id"]), json.loads(row["fields"]), tuple(row["keys"]))


class Neo4jMatchIndex(Area, MatchIndexPort):
    """The match index the probabilistic matcher reads candidates from."""

    def put_rows(self, rows: Sequence[MatchRow]) -> None:
        params = [
            {"record_id": r.record_id, "fields": dumps(r.fields), "keys": list(r.keys)}
            for r in rows
        ]
        self._db.write("matching.put_rows", lambda s: s.batched("put_match_rows", "rows", params))

    def rows_with_keys(self, keys: Collection[str]) -> list[MatchRow]:
        wanted = sorted(set(keys))
        rows = self._db.read(
            "matching.rows_with_keys", lambda s: s.batched("match_rows_with_keys", "keys", wanted)
        )
        # Batches of keys can find the same record twice.
        found = {int(row["record_id"]): row for row in rows}
        return [_match_row(found[rid]) for rid in sorted(found)]

    def rows_of(self, record_ids: Collection[RecordId]) -> list[MatchRow]:
        ids = sorted(set(record_ids))
        rows = self._db.read("matching.rows_of", lambda s: s.batched("match_rows_of", "ids", ids))
        return sorted((_match_row(row) for row in rows), key=lambda r: r.record_id)

    def key_counts(self, keys: Collection[str]) -> dict[str, int]:
        wanted = sorted(set(keys))
        rows = self._db.read(
            "matching.key_counts", lambda s: s.batched("blocking_key_counts", "keys", wanted)
        )
        return {str(row["key"]): int(row["records"]) for row in rows}

    def scan_rows(self, batch_size: int = 10_000) -> Iterator[list[MatchRow]]:
        pages = self._db.pages(
            "matching.scan_rows",
            statement("match_rows_page"),
            -1,
            last("record_id", int),
            batch_size,
        )
        for rows in pages:
            yield [_match_row(row) for row in rows]

    def clear(self) -> None:
        def work(s: Statements) -> None:
            s.run("clear_blocking_keys")
            s.run("clear_match_fields")

        self._db.write("matching.clear", work)
