"""Whole-store copies for ``idgraph migrate``: every row in id order, and imports that keep
ids, times and redirects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

from identity.errors import ProfilesNotImported
from identity.model import (
    Event,
    IdentifierFlag,
    IdentifierFlagReason,
    IdentifierKey,
    Link,
    MembershipKind,
    ProfileChangeKind,
    ProfileChangeRecord,
    ProfileStatus,
    RecordId,
    SegmentChange,
    StoredAuditEntry,
    StoredProfile,
    StoredRecord,
)
from identity.store.changes import dumps, encode_stamp, event_from_document, identifiers_json
from identity.store.neo4j.audit import audit_row, require_audit_entries
from identity.store.neo4j.connection import Area, Neo4jConnection, Statements, last
from identity.store.neo4j.cypher import statement
from identity.store.neo4j.links import links_of_record
from identity.store.neo4j.segments import apply_members, require_segments, segment_change_from_row
from identity.store.ports import CopyPort


class Neo4jCopy(Area, CopyPort):
    """Reads and imports of every area, for ``idgraph migrate`` alone."""

    def __init__(self, db: Neo4jConnection, migrate: Callable[[], None]) -> None:
        super().__init__(db)
        self._migrate = migrate

    def profiles(self, batch_size: int = 10_000) -> Iterator[StoredProfile]:
        for rows in self._db.pages(
            "copy.profiles", statement("profiles_page"), "", last("id", str), batch_size
        ):
            for row in rows:
                yield StoredProfile(
                    row["id"],
                    ProfileStatus(row["status"]),
                    datetime.fromisoformat(row["created_at"]),
                    datetime.fromisoformat(row["updated_at"]),
                    tuple(row["merged_from"] or ()),
                    row["redirect_to"],
                    row["split_from"],
                )

    def identifier_flags(self, batch_size: int = 10_000) -> Iterator[IdentifierFlag]:
        pages = self._db.pages(
            "copy.identifier_flags",
            statement("identifier_flags_page"),
            {"kind": "", "value": ""},
            lambda row: {"kind": row["kind"], "value": row["value"]},
            batch_size,
        )
        for rows in pages:
            for row in rows:
                yield IdentifierFlag(
                    IdentifierKey(row["kind"], row["value"]),
                    IdentifierFlagReason(row["reason"]),
                    int(row["record_count"]),
                )

    def links(self, batch_size: int = 10_000) -> Iterator[Link]:
        # Pages of records, each with the links it is the lower end of: links per record
        # are few, so a page's links stay near batch_size.
        for rows in self._db.pages(
            "copy.links", statement("links_page"), 0, last("a", int), batch_size
        ):
            for row in rows:
                yield from links_of_record(row)

    def events(self, batch_size: int = 10_000) -> Iterator[Event]:
        for rows in self._db.pages(
            "copy.events", statement("events_page"), "", last("event_id", str), batch_size
        ):
            for row in rows:
                yield event_from_document(row["event_id"], row["body"])

    def segment_changes(self, batch_size: int = 10_000) -> Iterator[SegmentChange]:
        pages = self._db.pages(
            "copy.segment_changes",
            statement("segment_changes_page"),
            0,
            last("seq", int),
            batch_size,
        )
        for rows in pages:
            yield from (segment_change_from_row(row) for row in rows)

    def import_records(self, records: Sequence[StoredRecord]) -> list[RecordId]:
        wanted = sorted({r.profile_id for r in records if r.profile_id is not None})

        def work(s: Statements) -> list[RecordId]:
            missing = s.batched("missing_profiles", "ids", wanted)
            if missing:
                raise ProfilesNotImported([row["id"] for row in missing])
            if not records:
                return []
            first = int(s.run("allocate_record_ids", count=len(records))[0]["first"])
            ids = [first + offset for offset in range(len(records))]
            rows = [
                {
                    "id": rid,
                    "source": stored.record.source,
                    "key": stored.record.key,
                    "identifiers": identifiers_json(stored.record.identifiers),
                    "attributes": dumps(stored.record.attributes),
                    "raw": dumps(stored.record.raw),
                    "timestamp": encode_stamp(stored.record.timestamp),
                    "ingested_at": stored.ingested_at.isoformat(),
                    "updated_at": stored.updated_at.isoformat(),
                }
                for rid, stored in zip(ids, records, strict=True)
            ]
            s.batched("import_records", "rows", rows)
            edges = [
                {"record_id": rid, "kind": i.kind, "value": i.value, "original": i.original}
                for rid, stored in zip(ids, records, strict=True)
                for i in stored.record.identifiers
            ]
            s.batched("add_identifier_edges", "rows", edges)
            assignments = [
                {"record_id": rid, "profile_id": stored.profile_id}
                for rid, stored in zip(ids, records, strict=True)
                if stored.profile_id is not None
            ]
            s.batched("import_record_profiles", "rows", assignments)
            return ids

        return self._db.write("copy.import_records", work)

    def import_profiles(self, profiles: Sequence[StoredProfile]) -> None:
        rows = [
            {
                "id": p.id,
                "status": ProfileStatus(p.status).value,
                "merged_from": list(p.merged_from),
                "split_from": p.split_from,
                "created_at": p.created_at.isoformat(),
                "updated_at": p.updated_at.isoformat(),
                "redirect_to": p.redirect_to,
            }
            for p in profiles
        ]
        self._db.write("copy.import_profiles", lambda s: s.batched("import_profiles", "rows", rows))

    def import_profile_changes(self, records: Sequence[ProfileChangeRecord]) -> None:
        if not records:
            return
        rows = [
            {
                "seq": r.seq,
                "kind": ProfileChangeKind(r.kind).value,
                "profile_id": r.profile_id,
                "at": r.at.isoformat(),
                "related": r.related,
            }
            for r in records
        ]

        def work(s: Statements) -> None:
            s.batched("log_profile_changes", "rows", rows)
            s.run("advance_profile_change_seq", last=max(r.seq for r in records))

        self._db.write("copy.import_profile_changes", work)

    def import_audit(self, entries: Sequence[StoredAuditEntry]) -> None:
        if not entries:
            return
        ordered = sorted(entries, key=lambda e: e.id)
        given = {e.id for e in ordered}
        undone = {e.entry.undoes for e in ordered if e.entry.undoes is not None} - given

        def work(s: Statements) -> None:
            require_audit_entries(s, undone)
            rows = [audit_row(e.id, e.at, e.entry) for e in ordered]
            s.batched("log_audit_entries", "rows", rows)
            s.run("advance_audit_id", last=ordered[-1].id)

        self._db.write("copy.import_audit", work)

    def import_segment_changes(self, changes: Sequence[SegmentChange]) -> None:
        if not changes:
            return
        ordered = sorted(changes, key=lambda c: c.seq)

        def work(s: Statements) -> None:
            require_segments(s, {c.segment for c in changes})
            apply_members(s, ordered)
            rows = [
                {
                    "seq": c.seq,
                    "segment": c.segment,
                    "profile_id": c.profile_id,
                    "kind": MembershipKind(c.kind).value,
                    "at": c.at.isoformat(),
                    "merged_into": c.merged_into,
                }
                for c in changes
            ]
            s.batched("log_segment_changes", "rows", rows)
            s.run("advance_change_seq", last=ordered[-1].seq)

        self._db.write("copy.import_segment_changes", work)

    def delete_everything(self) -> None:
        """Delete every node and relationship but the id sequences, then re-create the
        schema version. One auto-commit statement (``CALL ... IN TRANSACTIONS``), so not
        part of a :meth:`unit_of_work`."""
        self._db.run_auto_commit("copy.delete_everything", statement("delete_everything"))
        self._migrate()
