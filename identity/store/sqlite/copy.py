"""Copying a whole store, as ``idgraph migrate`` does (CopyPort), in SQLite: keyset pages
of every area out, imports that keep ids, sequences and times in, and emptying."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime

from identity.errors import ProfilesNotImported, StoreError
from identity.model import (
    Event,
    IdentifierFlag,
    Link,
    ProfileChangeRecord,
    ProfileStatus,
    RecordId,
    SegmentChange,
    StoredAuditEntry,
    StoredProfile,
    StoredRecord,
)
from identity.store.changes import dumps, encode_stamp, event_from_document, identifiers_json
from identity.store.ports import CopyPort
from identity.store.sqlite.connection import Connection
from identity.store.sqlite.links import stored_link
from identity.store.sqlite.records import identifier_flag
from identity.store.sqlite.segments import apply_members, segment_change
from identity.store.sqlite.statements import statement


def _sql(name: str) -> str:
    return statement("copy", name)


class SQLiteCopy(CopyPort):
    def __init__(self, db: Connection) -> None:
        self._db = db

    # -- out -------------------------------------------------------------------------------

    def profiles(self, batch_size: int = 10_000) -> Iterator[StoredProfile]:
        for rows in self._db.pages("copy.profiles", _sql("profiles_page"), ("",), batch_size):
            for pid, status, redirect, merged, created, updated, split_from in rows:
                yield StoredProfile(
                    pid,
                    ProfileStatus(status),
                    datetime.fromisoformat(created),
                    datetime.fromisoformat(updated),
                    tuple(json.loads(merged)),
                    redirect,
                    split_from,
                )

    def identifier_flags(self, batch_size: int = 10_000) -> Iterator[IdentifierFlag]:
        for rows in self._db.pages(
            "copy.identifier_flags", _sql("flags_page"), ("", ""), batch_size
        ):
            yield from (identifier_flag(*row) for row in rows)

    def links(self, batch_size: int = 10_000) -> Iterator[Link]:
        for rows in self._db.pages("copy.links", _sql("links_page"), (0, 0, "", ""), batch_size):
            yield from (stored_link(row) for row in rows)

    def events(self, batch_size: int = 10_000) -> Iterator[Event]:
        for rows in self._db.pages(
            "copy.events", _sql("events_page"), ("",), batch_size, until_empty=True
        ):
            for eid, body in rows:
                yield event_from_document(eid, body)

    def segment_changes(self, batch_size: int = 10_000) -> Iterator[SegmentChange]:
        for rows in self._db.pages(
            "copy.segment_changes", _sql("segment_changes_page"), (0,), batch_size, until_empty=True
        ):
            yield from (segment_change(row) for row in rows)

    # -- in --------------------------------------------------------------------------------

    def import_records(self, records: Sequence[StoredRecord]) -> list[RecordId]:
        db = self._db
        wanted = sorted({r.profile_id for r in records if r.profile_id is not None})
        ids: list[RecordId] = []
        with db.transaction("copy.import_records"):
            missing = db.execute(_sql("missing_profiles"), {"ids": dumps(wanted)}).fetchall()
            if missing:
                raise ProfilesNotImported([pid for (pid,) in missing])
            for stored in records:
                record = stored.record
                row = (
                    record.source,
                    record.key,
                    identifiers_json(record.identifiers),
                    dumps(record.attributes),
                    dumps(record.raw),
                    encode_stamp(record.timestamp),
                    stored.profile_id,
                    stored.ingested_at.isoformat(),
                    stored.updated_at.isoformat(),
                )
                ids.append(db.execute(_sql("import_record"), row).fetchone()[0])
            db.executemany(
                statement("records", "add_identifier_edge"),
                [
                    (i.kind, i.value, rid, i.original)
                    for rid, stored in zip(ids, records, strict=True)
                    for i in stored.record.identifiers
                ],
            )
        return ids

    def import_profiles(self, profiles: Sequence[StoredProfile]) -> None:
        with self._db.transaction("copy.import_profiles"):
            self._db.executemany(
                _sql("import_profile"),
                [
                    (
                        p.id,
                        ProfileStatus(p.status).value,
                        p.redirect_to,
                        dumps(list(p.merged_from)),
                        p.created_at.isoformat(),
                        p.updated_at.isoformat(),
                        p.split_from,
                    )
                    for p in profiles
                ],
            )

    def import_profile_changes(self, records: Sequence[ProfileChangeRecord]) -> None:
        with self._db.transaction("copy.import_profile_changes"):
            self._db.executemany(
                _sql("import_profile_change"),
                [(r.seq, r.kind.value, r.profile_id, r.at.isoformat(), r.related) for r in records],
            )

    def import_audit(self, entries: Sequence[StoredAuditEntry]) -> None:
        with self._db.transaction("copy.import_audit"):
            self._db.executemany(
                _sql("import_audit"),
                [
                    (
                        e.id,
                        e.at.isoformat(),
                        e.entry.actor,
                        e.entry.action,
                        e.entry.target,
                        e.entry.reason,
                        dumps(e.entry.before),
                        dumps(e.entry.after),
                        e.entry.undoes,
                    )
                    for e in sorted(entries, key=lambda e: e.id)
                ],
            )

    def import_segment_changes(self, changes: Sequence[SegmentChange]) -> None:
        db = self._db
        names = sorted({c.segment for c in changes})
        with db.transaction("copy.import_segment_changes"):
            missing = [
                name for (name,) in db.execute(_sql("missing_segments"), {"names": dumps(names)})
            ]
            if missing:
                raise StoreError(
                    f"cannot import changes of segments this store does not hold: "
                    f"{', '.join(missing)}; import their definitions first"
                )
            in_log_order: list[SegmentChange] = sorted(changes, key=lambda c: c.seq)
            apply_members(db, in_log_order)
            db.executemany(
                _sql("import_segment_change"),
                [
                    (c.seq, c.segment, c.profile_id, c.kind.value, c.at.isoformat(), c.merged_into)
                    for c in changes
                ],
            )

    # -- emptying --------------------------------------------------------------------------

    def delete_everything(self) -> None:
        # Every table of the schema (whatever later migrations add), with foreign keys
        # checked at commit, when nothing is left to point at. sqlite_sequence is kept, so
        # record ids are not reused.
        db = self._db
        with db.transaction("copy.delete_everything"):
            tables = [name for (name,) in db.execute(_sql("tables")).fetchall()]
            db.execute(_sql("defer_foreign_keys"))
            for table in tables:
                db.execute(_sql("delete_all_rows").format(table=table))
