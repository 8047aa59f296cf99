"""Source mappings and metadata documents: ``(:Source)`` and ``(:Meta)`` nodes by name."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import cast

from identity.model import JSONValue
from identity.store.changes import dumps
from identity.store.neo4j.connection import Area
from identity.store.ports import MetaPort, SourcePort


class Neo4jSources(Area, SourcePort):
    """Registered source mappings, one ``(:Source)`` node each."""

    def put(self, name: str, mapping: dict[str, JSONValue]) -> None:
        self._db.write(
            "sources.put", lambda s: s.run("put_source", name=name, mapping=dumps(mapping))
        )

    def get(self, name: str) -> dict[str, JSONValue] | None:
        rows = self._db.read("sources.get", lambda s: s.run("get_source", name=name))
        return cast(dict[str, JSONValue], json.loads(rows[0]["mapping"])) if rows else None

    def get_many(self, names: Collection[str]) -> dict[str, dict[str, JSONValue]]:
        wanted = sorted(set(names))
        rows = self._db.read(
            "sources.get_many", lambda s: s.batched("get_sources", "names", wanted)
        )
        return {str(row["name"]): json.loads(row["mapping"]) for row in rows}

    def names(self) -> list[str]:
        rows = self._db.read("sources.names", lambda s: s.run("list_sources"))
        return [str(row["name"]) for row in rows]


class Neo4jMeta(Area, MetaPort):
    """Small JSON documents by key, one ``(:Meta)`` node each."""

    def get(self, key: str) -> JSONValue | None:
        rows = self._db.read("meta.get", lambda s: s.run("get_meta", key=key))
        return json.loads(rows[0]["value"]) if rows else None

    def set(self, key: str, value: JSONValue) -> None:
        self._db.write("meta.set", lambda s: s.run("set_meta", key=key, value=dumps(value)))

    def names(self) -> list[str]:
        rows = self._db.read("meta.names", lambda s: s.run("meta_keys"))
        return [str(row["key"]) for row in rows]
