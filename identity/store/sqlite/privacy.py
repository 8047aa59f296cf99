"""Erasure, retention and the suppression list (PrivacyPort) in SQLite.

The writer runs with ``PRAGMA secure_delete`` (identity/store/sqlite/store.py), so deleted
rows are overwritten with zeros in their pages; :meth:`SQLitePrivacy.scrub` then moves the
write-ahead log into the file and truncates it, so no older copy of a page survives there.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from identity.model import IdentifierKey, RecordId, Suppression
from identity.store.changes import dumps, unique, utc_key
from identity.store.ports import PrivacyPort
from identity.store.sqlite.connection import Connection
from identity.store.sqlite.records import key_list
from identity.store.sqlite.statements import statement


def _sql(name: str) -> str:
    return statement("privacy", name)


class SQLitePrivacy(PrivacyPort):
    def __init__(self, db: Connection) -> None:
        self._db = db

    def delete_records(self, record_ids: Collection[RecordId]) -> list[IdentifierKey]:
        db = self._db
        ids = {"ids": dumps(unique(record_ids))}
        with db.transaction("privacy.delete_records"):
            held = [IdentifierKey(k, v) for k, v in db.execute(_sql("identifiers_held"), ids)]
            for name in (
                "delete_links",
                "delete_blocking_keys",
                "delete_match_rows",
                "delete_identifier_edges",
                "delete_records",
            ):
                db.execute(_sql(name), ids)
            if held:
                db.execute(_sql("delete_orphan_flags"), {"keys": key_list(held)})
        return held

    def delete_events(self, event_ids: Collection[str]) -> int:
        db = self._db
        ids = {"ids": dumps(unique(event_ids))}
        with db.transaction("privacy.delete_events"):
            db.execute(_sql("delete_event_edges"), ids)
            deleted: int = db.execute(_sql("delete_events"), ids).rowcount
        return deleted

    def expired_records(self, source: str, before: datetime, limit: int = 1000) -> list[RecordId]:
        with self._db.reading("privacy.expired_records") as conn:
            rows = conn.execute(
                _sql("expired_records"),
                {"source": source, "before": before.isoformat(), "limit": limit},
            ).fetchall()
        return [int(rid) for (rid,) in rows]

    def expired_events(self, before: datetime, limit: int = 1000) -> list[str]:
        with self._db.reading("privacy.expired_events") as conn:
            rows = conn.execute(
                _sql("expired_events"), {"before": utc_key(before), "limit": limit}
            ).fetchall()
        return [str(eid) for (eid,) in rows]

    def suppress(self, entries: Sequence[Suppression]) -> None:
        with self._db.transaction("privacy.suppress"):
            self._db.executemany(
                _sql("suppress"),
                [(e.hash, e.kind, e.at.isoformat(), e.audit_id) for e in entries],
            )

    def suppressed(self, hashes: Collection[str]) -> set[str]:
        if not hashes:
            return set()
        with self._db.reading("privacy.suppressed") as conn:
            rows = conn.execute(_sql("suppressed"), {"hashes": dumps(unique(hashes))}).fetchall()
        return {str(h) for (h,) in rows}

    def unsuppress(self, hashes: Collection[str]) -> int:
        with self._db.transaction("privacy.unsuppress"):
            gone: int = self._db.execute(
                _sql("unsuppress"), {"hashes": dumps(unique(hashes))}
            ).rowcount
        return gone

    def suppressions(self, after: str | None = None, limit: int = 1000) -> list[Suppression]:
        with self._db.reading("privacy.suppressions") as conn:
            rows = conn.execute(
                _sql("suppressions_page"), {"after": after or "", "limit": limit}
            ).fetchall()
        return [
            Suppression(h, kind, datetime.fromisoformat(at), audit_id)
            for h, kind, at, audit_id in rows
        ]

    def scrub(self) -> None:
        self._db.checkpoint()
