"""The audit log of stewardship actions (AuditPort) in SQLite."""

from __future__ import annotations

import json
import sys
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from identity.model import AuditEntry, StoredAuditEntry
from identity.store.changes import dumps
from identity.store.ports import AuditPort
from identity.store.sqlite.connection import Connection
from identity.store.sqlite.statements import statement


def _sql(name: str) -> str:
    return statement("audit", name)


def _audit(row: tuple[Any, ...]) -> StoredAuditEntry:
    aid, at, actor, action, target, reason, before, after, undoes, undone_by = row
    entry = AuditEntry(actor, action, target, reason, json.loads(before), json.loads(after), undoes)
    return StoredAuditEntry(aid, datetime.fromisoformat(at), entry, undone_by)


class SQLiteAudit(AuditPort):
    def __init__(self, db: Connection) -> None:
        self._db = db

    def append(self, entries: Sequence[AuditEntry], now: datetime) -> list[int]:
        at = now.isoformat()
        ids: list[int] = []
        with self._db.transaction("audit.append"):
            # One statement per entry: RETURNING gives each its id (entries come a few
            # at a time, one per action or batch, so this is no per-row loop over data).
            for e in entries:
                row = (at, e.actor, e.action, e.target, e.reason)
                values = (*row, dumps(e.before), dumps(e.after), e.undoes)
                ids.append(self._db.execute(_sql("append_audit"), values).fetchone()[0])
        return ids

    def entries(
        self,
        before: int | None = None,
        limit: int = 100,
        actor: str | None = None,
        action: str | None = None,
    ) -> list[StoredAuditEntry]:
        params = {
            "before": before if before is not None else sys.maxsize,
            "limit": limit,
            "actor": actor,
            "action": action,
        }
        with self._db.reading("audit.entries") as conn:
            return [_audit(row) for row in conn.execute(_sql("audit_entries"), params)]

    def get(self, ids: Collection[int]) -> dict[int, StoredAuditEntry]:
        with self._db.reading("audit.get") as conn:
            rows = conn.execute(_sql("audit_by_id"), {"ids": dumps(list(ids))}).fetchall()
        return {row[0]: _audit(row) for row in rows}

    def redact(self, entries: Sequence[StoredAuditEntry]) -> None:
        with self._db.transaction("audit.redact"):
            self._db.executemany(
                _sql("redact_audit"),
                [
                    (e.entry.target, dumps(e.entry.before), dumps(e.entry.after), e.id)
                    for e in entries
                ],
            )
