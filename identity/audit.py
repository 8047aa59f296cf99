"""The audit log: who did what, when, why, with the state before and after.

Every steward action, ingest batch, segment definition and export is logged by the use
case that performs it, in the same unit of work where there is one, with the actor the
entry point passes in (a token's name over HTTP, ``cli:USER`` on the command line).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from identity.cursors import decode_int_cursor, encode_cursor
from identity.errors import InvalidArgument
from identity.model import AuditEntry, JSONValue, Link, LinkType, StoredAuditEntry
from identity.resolution import utc_now
from identity.store.base import Store

SYSTEM = "system"
"""The actor of work nobody asked for by name (a scheduled refresh, a test)."""


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: list[StoredAuditEntry]
    end_cursor: str | None
    has_next_page: bool


def audit_cursor(entry_id: int) -> str:
    """The cursor of an entry: pass it as ``after`` for the entries older than it."""
    return encode_cursor("audit", entry_id)


class AuditService:
    """Writes and pages the audit log."""

    def __init__(self, store: Store, clock: Callable[[], datetime] = utc_now) -> None:
        self.store = store
        self.clock = clock

    def record(
        self,
        actor: str,
        action: str,
        target: str | None = None,
        reason: str | None = None,
        before: dict[str, JSONValue] | None = None,
        after: dict[str, JSONValue] | None = None,
        undoes: int | None = None,
    ) -> int:
        """Log one entry now; returns its id."""
        entry = AuditEntry(actor, action, target, reason, before or {}, after or {}, undoes)
        return self.store.audit.append([entry], self.clock())[0]

    def entries(
        self,
        first: int = 50,
        after: str | None = None,
        actor: str | None = None,
        action: str | None = None,
    ) -> AuditPage:
        """Newest first, ``first`` at a time after the cursor ``after``."""
        if not 1 <= first <= 500:
            raise InvalidArgument(f"first must be between 1 and 500, got {first}")
        before = decode_int_cursor(after, "audit") if after else None
        found = self.store.audit.entries(before=before, limit=first + 1, actor=actor, action=action)
        page = found[:first]
        return AuditPage(
            entries=page,
            end_cursor=audit_cursor(page[-1].id) if page else None,
            has_next_page=len(found) > first,
        )


def link_document(link: Link) -> dict[str, JSONValue]:
    """A link as an audit entry keeps it, so an undo can put it back exactly."""
    return {
        "a": link.a,
        "b": link.b,
        "type": link.type.value,
        "matcher": link.matcher,
        "weight": link.weight,
        "evidence": link.evidence,
    }


def link_from_document(doc: JSONValue) -> Link:
    """The link an audit entry kept (:func:`link_document`)."""
    assert isinstance(doc, dict)
    return Link(
        int(doc["a"]),
        int(doc["b"]),
        LinkType(doc["type"]),
        str(doc["matcher"]),
        float(doc["weight"]),
        dict(doc["evidence"]),
    )
