"""The match index (MatchIndexPort) in SQLite: one row of comparison fields per record,
and the blocking keys that find a record's candidates."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from identity.model import MatchRow, RecordId
from identity.store.changes import dumps
from identity.store.ports import MatchIndexPort
from identity.store.sqlite.connection import Connection
from identity.store.sqlite.statements import statement


def _sql(name: str) -> str:
    return statement("matching", name)


def _match_row(row: tuple[Any, ...]) -> MatchRow:
    rid, fields, keys = row
    return MatchRow(rid, json.loads(fields), tuple(json.loads(keys)))


class SQLiteMatchIndex(MatchIndexPort):
    def __init__(self, db: Connection) -> None:
        self._db = db

    def put_rows(self, rows: Sequence[MatchRow]) -> None:
        db = self._db
        with db.transaction("matching.put_rows"):
            db.execute(_sql("delete_blocking_keys"), {"ids": dumps([r.record_id for r in rows])})
            db.executemany(
                _sql("put_match_row"),
                [(r.record_id, dumps(r.fields), dumps(list(r.keys))) for r in rows],
            )
            db.executemany(
                _sql("add_blocking_key"), [(key, r.record_id) for r in rows for key in r.keys]
            )

    def rows_with_keys(self, keys: Collection[str]) -> list[MatchRow]:
        with self._db.reading("matching.rows_with_keys") as conn:
            rows = conn.execute(
                _sql("match_rows_with_keys"), {"keys": dumps(list(keys))}
            ).fetchall()
        return [_match_row(row) for row in rows]

    def rows_of(self, record_ids: Collection[RecordId]) -> list[MatchRow]:
        with self._db.reading("matching.rows_of") as conn:
            rows = conn.execute(
                _sql("match_rows_of"), {"ids": dumps(sorted(set(record_ids)))}
            ).fetchall()
        return [_match_row(row) for row in rows]

    def key_counts(self, keys: Collection[str]) -> dict[str, int]:
        with self._db.reading("matching.key_counts") as conn:
            rows = conn.execute(
                _sql("blocking_key_counts"), {"keys": dumps(sorted(set(keys)))}
            ).fetchall()
        return {key: int(count) for key, count in rows}

    def scan_rows(self, batch_size: int = 10_000) -> Iterator[list[MatchRow]]:
        for rows in self._db.pages(
            "matching.scan_rows", _sql("match_rows_page"), (-1,), batch_size
        ):
            yield [_match_row(row) for row in rows]

    def clear(self) -> None:
        with self._db.transaction("matching.clear"):
            self._db.execute(_sql("clear_blocking_keys"))
            self._db.execute(_sql("clear_match_rows"))
