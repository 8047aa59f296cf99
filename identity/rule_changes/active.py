"""Which rules a store runs with: after ``idgraph rules apply`` (or ``undo``) the store
keeps the text of the rules it was rebased to, and a graph opened without a rules file of
its own runs with them, so a process started after the apply cannot undo it by accident.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from identity.rules import PACKAGED_RULES, Rules, rules_from_text, rules_text
from identity.store.base import UnitOfWork

ACTIVE_RULES = "rules.active"
"""The store's meta key of the rules last applied: their text, its digest, the audit entry."""

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ActiveRules:
    """The rules a store was last rebased to."""

    text: str
    digest: str
    audit_id: int | None


def digest(text: str) -> str:
    """The rules text's SHA-256, hex: names a version of the rules in the audit log."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def active_rules(store: UnitOfWork) -> ActiveRules | None:
    """The rules the store was last rebased to, or None if it never was."""
    found = store.meta.get(ACTIVE_RULES)
    if not isinstance(found, dict) or not isinstance(found.get("text"), str):
        return None
    text = str(found["text"])
    audit = found.get("audit_id")
    return ActiveRules(text, digest(text), audit if isinstance(audit, int) else None)


def activate(store: UnitOfWork, text: str, audit_id: int) -> None:
    store.meta.set(ACTIVE_RULES, {"text": text, "digest": digest(text), "audit_id": audit_id})


def current_rules(store: UnitOfWork, path: Path | None) -> tuple[Rules, str]:
    """The rules a graph over ``store`` runs with, and their text: the file ``path`` when
    given (a warning is logged when the store was rebased to other rules), else the
    store's active rules, else the packaged default."""
    active = active_rules(store)
    if path is None and active is not None:
        where = f"the store's rules (idgraph rules apply, audit entry {active.audit_id})"
        return rules_from_text(active.text, where), active.text
    text = rules_text(path)
    if active is not None and digest(text) != active.digest:
        log.warning(
            "rules_differ_from_store",
            extra={"rules": str(path or PACKAGED_RULES), "store_rules_audit": active.audit_id},
        )
    return rules_from_text(text, str(path) if path else PACKAGED_RULES), text
