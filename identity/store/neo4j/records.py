"""Records and their identifiers: ``(:Record)-[:HAS_IDENTIFIER]->(:Identifier)``, and the
flags on identifiers that do not link.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import Any

from identity.model import (
    Identifier,
    IdentifierFlag,
    IdentifierFlagReason,
    IdentifierKey,
    JSONValue,
    ProfileId,
    RecordId,
    RecordRef,
    RecordWrite,
    SourceRecord,
    StoredRecord,
)
from identity.store.changes import (
    RecordColumns,
    StoredColumns,
    decode_stamp,
    diff_records,
    load_identifiers,
    unique,
)
from identity.store.neo4j.connection import Area, Row, Statements, identifier_keys, last
from identity.store.neo4j.cypher import statement
from identity.store.ports import RecordPort


def _record(row: Row) -> StoredRecord:
    """A record as the ``records_by_id`` and ``records_page`` statements return it."""
    return StoredRecord(
        record_id=int(row["id"]),
        record=SourceRecord(
            source=row["source"],
            key=row["key"],
            identifiers=load_identifiers(row["identifiers"]),
            attributes=json.loads(row["attributes"]),
            timestamp=decode_stamp(row["timestamp"]),
            raw=json.loads(row["raw"]),
        ),
        profile_id=row["profile_id"],
        ingested_at=datetime.fromisoformat(row["ingested_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
    )


class Neo4jRecords(Area, RecordPort):
    """Records, the identifier nodes they carry, and identifier flags."""

    def upsert(self, records: Sequence[SourceRecord], now: datetime) -> list[RecordWrite]:
        refs = [{"source": s, "key": k} for s, k in sorted({r.ref for r in records})]

        def work(s: Statements) -> list[RecordWrite]:
            existing = {
                RecordRef(row["source"], row["key"]): StoredColumns(
                    int(row["id"]),
                    RecordColumns(
                        row["identifiers"], row["attributes"], row["raw"], row["timestamp"]
                    ),
                )
                for row in s.batched("records_by_ref", "refs", refs)
            }
            diff = diff_records(existing, records)
            # New records get ids in the order they first appear, as the embedded store's
            # autoincrement gives them.
            first = (
                int(s.run("allocate_record_ids", count=len(diff.created))[0]["first"])
                if diff.created
                else 0
            )
            new_ids = {ref: first + offset for offset, ref in enumerate(diff.created)}
            ids = diff.ids(new_ids)

            def rows(columns: dict[RecordRef, RecordColumns]) -> list[dict[str, Any]]:
                return [
                    {
                        "id": ids[ref],
                        "source": ref.source,
                        "key": ref.key,
                        "identifiers": c.identifiers,
                        "attributes": c.attributes,
                        "raw": c.raw,
                        "timestamp": c.timestamp,
                    }
                    for ref, c in columns.items()
                ]

            stamp = now.isoformat()
            s.batched("create_records", "rows", rows(diff.created_last()), now=stamp)
            s.batched("update_records", "rows", rows(diff.updated_existing()), now=stamp)
            removed = [
                {"record_id": ids[ref], "kind": k.kind, "value": k.value}
                for ref, k in diff.removed_edges
            ]
            s.batched("remove_identifier_edges", "rows", removed)
            added = [
                {"record_id": ids[ref], "kind": i.kind, "value": i.value, "original": i.original}
                for ref, i in diff.added_edges
            ]
            s.batched("add_identifier_edges", "rows", added)
            return diff.writes(new_ids)

        return self._db.write("records.upsert", work)

    def get(self, record_ids: Collection[RecordId]) -> dict[RecordId, StoredRecord]:
        ids = unique(record_ids)
        rows = self._db.read("records.get", lambda s: s.batched("records_by_id", "ids", ids))
        return {int(row["id"]): _record(row) for row in rows}

    def attributes_of(
        self, record_ids: Collection[RecordId], names: Collection[str]
    ) -> dict[RecordId, dict[str, JSONValue]]:
        ids, wanted = unique(record_ids), set(names)
        rows = self._db.read(
            "records.attributes_of", lambda s: s.batched("record_attributes", "ids", ids)
        )
        result: dict[RecordId, dict[str, JSONValue]] = {}
        for row in rows:
            held = json.loads(row["attributes"])
            result[int(row["id"])] = {k: v for k, v in held.items() if k in wanted}
        return result

    def ids(self, refs: Collection[RecordRef]) -> dict[RecordRef, RecordId]:
        wanted = [{"source": s, "key": k} for s, k in unique(RecordRef(*r) for r in refs)]
        rows = self._db.read("records.ids", lambda s: s.batched("record_ids", "refs", wanted))
        return {RecordRef(row["source"], row["key"]): int(row["id"]) for row in rows}

    def refs(self, record_ids: Collection[RecordId]) -> dict[RecordId, RecordRef]:
        ids = unique(record_ids)
        rows = self._db.read("records.refs", lambda s: s.batched("record_refs", "ids", ids))
        return {int(row["id"]): RecordRef(row["source"], row["key"]) for row in rows}

    def scan(self, batch_size: int = 10_000) -> Iterator[StoredRecord]:
        for rows in self._db.pages(
            "records.scan", statement("records_page"), 0, last("id", int), batch_size
        ):
            yield from (_record(row) for row in rows)

    def scan_profiles(
        self, batch_size: int = 10_000
    ) -> Iterator[tuple[RecordRef, ProfileId | None]]:
        pages = self._db.pages(
            "records.scan_profiles",
            statement("record_profiles_page"),
            {"source": "", "key": ""},
            lambda row: {"source": row["source"], "key": row["key"]},
            batch_size,
        )
        for rows in pages:
            for row in rows:
                yield RecordRef(row["source"], row["key"]), row["profile_id"]

    def identifiers_of(self, record_ids: Collection[RecordId]) -> dict[RecordId, list[Identifier]]:
        ids = unique(record_ids)
        rows = self._db.read(
            "records.identifiers_of", lambda s: s.batched("identifiers_of", "ids", ids)
        )
        return {int(row["id"]): list(load_identifiers(row["identifiers"])) for row in rows}

    def identifier_counts(self, keys: Collection[IdentifierKey]) -> dict[IdentifierKey, int]:
        wanted = identifier_keys(keys)
        rows = self._db.read(
            "records.identifier_counts", lambda s: s.batched("identifier_counts", "keys", wanted)
        )
        return {IdentifierKey(row["kind"], row["value"]): int(row["records"]) for row in rows}

    def with_identifiers(
        self, keys: Collection[IdentifierKey]
    ) -> dict[IdentifierKey, list[RecordId]]:
        result: dict[IdentifierKey, list[RecordId]] = {IdentifierKey(*k): [] for k in keys}
        wanted = identifier_keys(keys)
        rows = self._db.read(
            "records.with_identifiers", lambda s: s.batched("records_with", "keys", wanted)
        )
        for row in rows:
            result[IdentifierKey(row["kind"], row["value"])].append(int(row["record_id"]))
        return result

    def identifiers_shared(self, kind: str, more_than: int) -> dict[IdentifierKey, int]:
        rows = self._db.read(
            "records.identifiers_shared",
            lambda s: s.run("identifiers_shared", kind=kind, more_than=more_than),
        )
        return {IdentifierKey(row["kind"], row["value"]): int(row["records"]) for row in rows}

    def identifiers_valued(self, values: Collection[str]) -> dict[IdentifierKey, int]:
        wanted = sorted({v.strip().lower() for v in values})
        if not wanted:
            return {}
        rows = self._db.read(
            "records.identifiers_valued", lambda s: s.run("identifiers_valued", values=wanted)
        )
        return {IdentifierKey(row["kind"], row["value"]): int(row["records"]) for row in rows}

    def holding_kinds(self, kinds: Collection[str]) -> list[RecordId]:
        if not kinds:
            return []
        rows = self._db.read(
            "records.holding_kinds",
            lambda s: s.run("records_holding_kinds", kinds=sorted(kinds)),
        )
        return sorted(int(row["id"]) for row in rows)

    def put_flags(
        self, flags: Sequence[IdentifierFlag], cleared: Collection[IdentifierKey] = ()
    ) -> None:
        rows = [
            {
                "kind": f.key.kind,
                "value": f.key.value,
                "reason": f.reason.value,
                "record_count": f.record_count,
            }
            for f in flags
        ]
        gone = identifier_keys(cleared)

        def work(s: Statements) -> None:
            s.batched("clear_identifier_flags", "keys", gone)
            s.batched("put_identifier_flags", "rows", rows)

        self._db.write("records.put_flags", work)

    def flags(self, limit: int = 1000) -> list[IdentifierFlag]:
        rows = self._db.read("records.flags", lambda s: s.run("identifier_flags", limit=limit))
        return [
            IdentifierFlag(
                IdentifierKey(row["kind"], row["value"]),
                IdentifierFlagReason(row["reason"]),
                int(row["record_count"]),
            )
            for row in rows
        ]
