"""Source records, their identifier edges and identifier flags (RecordPort) in SQLite.

Key lists of any length are passed as one JSON array parameter and unpacked with
``json_each``, so a batch is one statement, never one per key and never beyond SQLite's
parameter limit.
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
    dumps,
    load_identifiers,
)
from identity.store.ports import RecordPort
from identity.store.sqlite.connection import Connection
from identity.store.sqlite.statements import statement


def _sql(name: str) -> str:
    return statement("records", name)


def key_list(keys: Collection[IdentifierKey]) -> str:
    """Identifier keys as the JSON array of ``[kind, value]`` pairs statements unpack."""
    return dumps([[k.kind, k.value] for k in keys])


def stored_record(row: tuple[Any, ...]) -> StoredRecord:
    """A row of the record columns (``records_by_id``) as a StoredRecord."""
    rid, source, key, identifiers, attributes, raw, stamp, profile, ingested, updated = row
    return StoredRecord(
        record_id=rid,
        record=SourceRecord(
            source=source,
            key=key,
            identifiers=load_identifiers(identifiers),
            attributes=json.loads(attributes),
            timestamp=decode_stamp(stamp),
            raw=json.loads(raw),
        ),
        profile_id=profile,
        ingested_at=datetime.fromisoformat(ingested),
        updated_at=datetime.fromisoformat(updated),
    )


def identifier_flag(kind: str, value: str, reason: str, count: int) -> IdentifierFlag:
    return IdentifierFlag(IdentifierKey(kind, value), IdentifierFlagReason(reason), count)


def _json_each_value(value: Any, kind: str) -> JSONValue:
    """A value as json_each gives it (arrays and objects as JSON text, true and false
    as 1 and 0) as the JSON value it is."""
    if kind in ("array", "object"):
        loaded: JSONValue = json.loads(value)
        return loaded
    if kind in ("true", "false"):
        return kind == "true"
    return value


class SQLiteRecords(RecordPort):
    def __init__(self, db: Connection) -> None:
        self._db = db

    def upsert(self, records: Sequence[SourceRecord], now: datetime) -> list[RecordWrite]:
        db = self._db
        refs = dumps(sorted({(r.source, r.key) for r in records}))
        stamp = now.isoformat()
        with db.transaction("records.upsert"):
            existing = {
                RecordRef(row[1], row[2]): StoredColumns(row[0], RecordColumns(*row[3:7]))
                for row in db.execute(_sql("records_by_ref"), {"refs": refs})
            }
            diff = diff_records(existing, records)
            # Autoincrement ids, in the order the new records first appear.
            new_ids: dict[RecordRef, RecordId] = {
                ref: db.execute(
                    _sql("insert_record"),
                    (*ref, c.identifiers, c.attributes, c.raw, c.timestamp, stamp, stamp),
                ).fetchone()[0]
                for ref, c in diff.created.items()
            }
            ids = diff.ids(new_ids)
            db.executemany(
                _sql("update_record"),
                [
                    (c.identifiers, c.attributes, c.raw, c.timestamp, stamp, ids[ref])
                    for ref, c in diff.updated.items()
                ],
            )
            db.executemany(
                _sql("remove_identifier_edge"),
                [(k.kind, k.value, ids[ref]) for ref, k in diff.removed_edges],
            )
            db.executemany(
                _sql("add_identifier_edge"),
                [(i.kind, i.value, ids[ref], i.original) for ref, i in diff.added_edges],
            )
        return diff.writes(new_ids)

    def get(self, record_ids: Collection[RecordId]) -> dict[RecordId, StoredRecord]:
        with self._db.reading("records.get") as conn:
            rows = conn.execute(_sql("records_by_id"), {"ids": dumps(list(record_ids))}).fetchall()
        return {row[0]: stored_record(row) for row in rows}

    def attributes_of(
        self, record_ids: Collection[RecordId], names: Collection[str]
    ) -> dict[RecordId, dict[str, JSONValue]]:
        result: dict[RecordId, dict[str, JSONValue]] = {}
        params = {"ids": dumps(list(record_ids)), "names": dumps(sorted(set(names)))}
        with self._db.reading("records.attributes_of") as conn:
            for rid, name, value, kind in conn.execute(_sql("record_attributes"), params):
                held = result.setdefault(rid, {})
                if name is not None:
                    held[name] = _json_each_value(value, kind)
        return result

    def ids(self, refs: Collection[RecordRef]) -> dict[RecordRef, RecordId]:
        with self._db.reading("records.ids") as conn:
            rows = conn.execute(_sql("record_ids"), {"refs": dumps([list(r) for r in refs])})
            return {RecordRef(source, key): rid for source, key, rid in rows}

    def refs(self, record_ids: Collection[RecordId]) -> dict[RecordId, RecordRef]:
        with self._db.reading("records.refs") as conn:
            rows = conn.execute(_sql("record_refs"), {"ids": dumps(list(record_ids))})
            return {rid: RecordRef(source, key) for rid, source, key in rows}

    def scan(self, batch_size: int = 10_000) -> Iterator[StoredRecord]:
        for rows in self._db.pages("records.scan", _sql("records_page"), (0,), batch_size):
            yield from (stored_record(row) for row in rows)

    def scan_profiles(
        self, batch_size: int = 10_000
    ) -> Iterator[tuple[RecordRef, ProfileId | None]]:
        for rows in self._db.pages(
            "records.scan_profiles", _sql("record_profiles_page"), ("", ""), batch_size
        ):
            for source, key, profile in rows:
                yield RecordRef(source, key), profile

    def identifiers_of(self, record_ids: Collection[RecordId]) -> dict[RecordId, list[Identifier]]:
        result: dict[RecordId, list[Identifier]] = {}
        with self._db.reading("records.identifiers_of") as conn:
            for rid, text in conn.execute(_sql("identifiers_of"), {"ids": dumps(list(record_ids))}):
                result[rid] = list(load_identifiers(text))
        return result

    def identifier_counts(self, keys: Collection[IdentifierKey]) -> dict[IdentifierKey, int]:
        with self._db.reading("records.identifier_counts") as conn:
            rows = conn.execute(_sql("identifier_counts"), {"keys": key_list(keys)})
            return {IdentifierKey(kind, value): count for kind, value, count in rows}

    def with_identifiers(
        self, keys: Collection[IdentifierKey]
    ) -> dict[IdentifierKey, list[RecordId]]:
        result: dict[IdentifierKey, list[RecordId]] = {IdentifierKey(*k): [] for k in keys}
        with self._db.reading("records.with_identifiers") as conn:
            for kind, value, rid in conn.execute(_sql("records_with"), {"keys": key_list(keys)}):
                result[IdentifierKey(kind, value)].append(rid)
        return result

    def identifiers_shared(self, kind: str, more_than: int) -> dict[IdentifierKey, int]:
        with self._db.reading("records.identifiers_shared") as conn:
            rows = conn.execute(_sql("identifiers_shared"), {"kind": kind, "more_than": more_than})
            return {IdentifierKey(k, value): count for k, value, count in rows}

    def identifiers_valued(self, values: Collection[str]) -> dict[IdentifierKey, int]:
        wanted = sorted({v.strip().lower() for v in values})
        if not wanted:
            return {}
        with self._db.reading("records.identifiers_valued") as conn:
            rows = conn.execute(_sql("identifiers_valued"), {"values": dumps(wanted)})
            return {IdentifierKey(kind, value): count for kind, value, count in rows}

    def holding_kinds(self, kinds: Collection[str]) -> list[RecordId]:
        if not kinds:
            return []
        with self._db.reading("records.holding_kinds") as conn:
            rows = conn.execute(_sql("records_holding_kinds"), {"kinds": dumps(sorted(kinds))})
            return [rid for (rid,) in rows]

    def put_flags(
        self, flags: Sequence[IdentifierFlag], cleared: Collection[IdentifierKey] = ()
    ) -> None:
        with self._db.transaction("records.put_flags"):
            if cleared:
                self._db.execute(_sql("clear_flags"), {"keys": key_list(cleared)})
            self._db.executemany(
                _sql("put_flag"),
                [(f.key.kind, f.key.value, f.reason.value, f.record_count) for f in flags],
            )

    def flags(self, limit: int = 1000) -> list[IdentifierFlag]:
        with self._db.reading("records.flags") as conn:
            return [identifier_flag(*row) for row in conn.execute(_sql("flags"), (limit,))]
