"""Source mappings and store metadata (SourcePort, MetaPort) in SQLite."""

from __future__ import annotations

import json
from collections.abc import Collection

from identity.model import JSONValue
from identity.store.changes import dumps
from identity.store.ports import MetaPort, SourcePort
from identity.store.sqlite.connection import Connection
from identity.store.sqlite.statements import statement


def _sql(name: str) -> str:
    return statement("sources", name)


class SQLiteSources(SourcePort):
    def __init__(self, db: Connection) -> None:
        self._db = db

    def put(self, name: str, mapping: dict[str, JSONValue]) -> None:
        with self._db.transaction("sources.put"):
            self._db.execute(_sql("put_source"), (name, dumps(mapping)))

    def get(self, name: str) -> dict[str, JSONValue] | None:
        with self._db.reading("sources.get") as conn:
            row = conn.execute(_sql("get_source"), (name,)).fetchone()
        return json.loads(row[0]) if row else None

    def get_many(self, names: Collection[str]) -> dict[str, dict[str, JSONValue]]:
        if not names:
            return {}
        with self._db.reading("sources.get_many") as conn:
            rows = conn.execute(_sql("get_sources"), {"names": json.dumps(sorted(set(names)))})
            return {name: json.loads(mapping) for name, mapping in rows}

    def names(self) -> list[str]:
        with self._db.reading("sources.names") as conn:
            return [name for (name,) in conn.execute(_sql("list_sources"))]


class SQLiteMeta(MetaPort):
    def __init__(self, db: Connection) -> None:
        self._db = db

    def get(self, key: str) -> JSONValue | None:
        with self._db.reading("meta.get") as conn:
            row = conn.execute(_sql("get_meta"), (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set(self, key: str, value: JSONValue) -> None:
        with self._db.transaction("meta.set"):
            self._db.execute(_sql("put_meta"), (key, dumps(value)))

    def names(self) -> list[str]:
        with self._db.reading("meta.names") as conn:
            return [key for (key,) in conn.execute(_sql("meta_keys"))]
