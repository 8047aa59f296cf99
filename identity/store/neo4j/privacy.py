"""Erasure, retention and the suppression list: deleting ``Record`` and ``Event`` nodes
with everything that hangs off them, and ``(:Suppression)`` nodes by hash.

Neo4j reuses the space of deleted nodes and keeps no freed copy that Cypher can read, so
:meth:`Neo4jPrivacy.scrub` has nothing to do; its transaction logs keep what was deleted
until they rotate out (docs/privacy.md says how to bound them).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from identity.model import IdentifierKey, RecordId, Suppression
from identity.store.changes import unique, utc
from identity.store.neo4j.connection import Area, Statements, identifier_keys
from identity.store.ports import PrivacyPort


class Neo4jPrivacy(Area, PrivacyPort):
    """Deleting records and events for good, and the suppression list."""

    def delete_records(self, record_ids: Collection[RecordId]) -> list[IdentifierKey]:
        ids = unique(record_ids)

        def work(s: Statements) -> list[IdentifierKey]:
            held = {
                IdentifierKey(row["kind"], row["value"])
                for row in s.batched("identifiers_held", "ids", ids)
            }
            s.batched("erase_records", "ids", ids)
            s.batched("erase_orphan_identifiers", "rows", identifier_keys(held))
            return sorted(held)

        return self._db.write("privacy.delete_records", work)

    def delete_events(self, event_ids: Collection[str]) -> int:
        ids = unique(event_ids)

        def work(s: Statements) -> int:
            deleted, carried = 0, set[IdentifierKey]()
            for row in s.batched("erase_events", "ids", ids):
                deleted += int(row["deleted"])
                carried.update(
                    IdentifierKey(c["kind"], c["value"]) for c in row["carried"] if c["kind"]
                )
            s.batched("erase_orphan_identifiers", "rows", identifier_keys(carried))
            return deleted

        return self._db.write("privacy.delete_events", work)

    def expired_records(self, source: str, before: datetime, limit: int = 1000) -> list[RecordId]:
        rows = self._db.read(
            "privacy.expired_records",
            lambda s: s.run(
                "expired_records", source=source, before=before.isoformat(), limit=limit
            ),
        )
        return [int(row["id"]) for row in rows]

    def expired_events(self, before: datetime, limit: int = 1000) -> list[str]:
        rows = self._db.read(
            "privacy.expired_events",
            lambda s: s.run("expired_events", before=utc(before), limit=limit),
        )
        return [str(row["event_id"]) for row in rows]

    def suppress(self, entries: Sequence[Suppression]) -> None:
        rows = [
            {"hash": e.hash, "kind": e.kind, "at": e.at.isoformat(), "audit_id": e.audit_id}
            for e in entries
        ]
        self._db.write("privacy.suppress", lambda s: s.batched("suppress", "rows", rows))

    def suppressed(self, hashes: Collection[str]) -> set[str]:
        if not hashes:
            return set()
        rows = self._db.read(
            "privacy.suppressed", lambda s: s.batched("suppressed", "hashes", unique(hashes))
        )
        return {str(row["hash"]) for row in rows}

    def unsuppress(self, hashes: Collection[str]) -> int:
        rows = self._db.write(
            "privacy.unsuppress", lambda s: s.batched("unsuppress", "hashes", unique(hashes))
        )
        return sum(int(row["deleted"]) for row in rows)

    def suppressions(self, after: str | None = None, limit: int = 1000) -> list[Suppression]:
        rows = self._db.read(
            "privacy.suppressions",
            lambda s: s.run("suppressions_page", after=after or "", limit=limit),
        )
        return [
            Suppression(
                str(row["hash"]),
                str(row["kind"]),
                datetime.fromisoformat(row["at"]),
                int(row["audit_id"]) if row["audit_id"] is not None else None,
            )
            for row in rows
        ]

    def scrub(self) -> None:
        return None
