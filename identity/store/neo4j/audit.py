"""The audit log of steward actions: ``(:AuditEntry)`` nodes by id."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from identity.errors import StoreError
from identity.model import AuditEntry, StoredAuditEntry
from identity.store.changes import dumps, unique
from identity.store.neo4j.connection import Area, Row, Statements
from identity.store.ports import AuditPort


def _audit_entry(row: Row) -> StoredAuditEntry:
    undoes, undone_by = row["undoes"], row["undone_by"]
    return StoredAuditEntry(
        int(row["id"]),
        datetime.fromisoformat(row["at"]),
        AuditEntry(
            row["actor"],
            row["action"],
            row["target"],
            row["reason"],
            json.loads(row["before"]),
            json.loads(row["after"]),
            int(undoes) if undoes is not None else None,
        ),
        int(undone_by) if undone_by is not None else None,
    )


def audit_row(entry_id: int, at: datetime, entry: AuditEntry) -> dict[str, Any]:
    """An entry as a row of ``log_audit_entries`` (appended here, imported by :mod:`.copy`)."""
    return {
        "id": entry_id,
        "at": at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        # Text, as the embedded store's column keeps it: an id given as a number comes back
        # the same from both stores.
        "target": str(entry.target) if entry.target is not None else None,
        "reason": entry.reason,
        "before": dumps(entry.before),
        "after": dumps(entry.after),
        "undoes": entry.undoes,
    }


def require_audit_entries(s: Statements, ids: Collection[int]) -> None:
    """Refuses undo entries naming entries the log does not hold (the embedded store's
    foreign key)."""
    missing = [int(row["id"]) for row in s.batched("missing_audit_entries", "ids", sorted(ids))]
    if missing:
        raise StoreError(
            f"cannot log an undo of audit entries this store does not hold: "
            f"{', '.join(map(str, missing))}"
        )


class Neo4jAudit(Area, AuditPort):
    """The audit log."""

    def append(self, entries: Sequence[AuditEntry], now: datetime) -> list[int]:
        if not entries:
            return []
        undone = {e.undoes for e in entries if e.undoes is not None}

        def work(s: Statements) -> list[int]:
            require_audit_entries(s, undone)
            first = int(s.run("allocate_audit_ids", count=len(entries))[0]["first"])
            ids = [first + offset for offset in range(len(entries))]
            rows = [audit_row(aid, now, e) for aid, e in zip(ids, entries, strict=True)]
            s.batched("log_audit_entries", "rows", rows)
            return ids

        return self._db.write("audit.append", work)

    def entries(
        self,
        before: int | None = None,
        limit: int = 100,
        actor: str | None = None,
        action: str | None = None,
    ) -> list[StoredAuditEntry]:
        # One statement per filter, so each seeks its own index (a null-or-equal filter
        # would leave the planner only the scan of every entry).
        def page(s: Statements) -> list[Row]:
            if actor is not None:
                return s.run(
                    "audit_entries_by_actor", before=before, limit=limit, actor=actor, action=action
                )
            if action is not None:
                return s.run("audit_entries_by_action", before=before, limit=limit, action=action)
            return s.run("audit_entries", before=before, limit=limit)

        return [_audit_entry(row) for row in self._db.read("audit.entries", page)]

    def get(self, ids: Collection[int]) -> dict[int, StoredAuditEntry]:
        wanted = unique(ids)
        rows = self._db.read("audit.get", lambda s: s.batched("audit_entries_by_id", "ids", wanted))
        return {int(row["id"]): _audit_entry(row) for row in rows}

    def redact(self, entries: Sequence[StoredAuditEntry]) -> None:
        rows = [
            {
                "id": e.id,
                "target": str(e.entry.target) if e.entry.target is not None else None,
                "before": dumps(e.entry.before),
                "after": dumps(e.entry.after),
            }
            for e in entries
        ]
        self._db.write("audit.redact", lambda s: s.batched("redact_audit_entries", "rows", rows))
