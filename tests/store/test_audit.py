"""The storage contract for the audit log.

Every test runs once per backend (conftest.BACKENDS)."""

from __future__ import annotations

from dataclasses import replace

from identity.model import AuditEntry
from identity.store.base import Store
from tests.store.builders import T0, T1


def test_the_audit_log_is_newest_first_filtered_and_knows_what_was_undone(
    store: Store,
) -> None:
    merge = AuditEntry(
        "steward-ann",
        "merge_profiles",
        target="p1",
        reason="same person, confirmed by phone",
        before={"profiles": ["p1", "p2"]},
        after={"profile": "p1"},
    )
    first, second = store.audit.append([merge, AuditEntry("loader", "ingest", "crm")], T0)
    assert second > first
    (undo,) = store.audit.append([AuditEntry("steward-bo", "undo", undoes=first)], T1)
    newest = store.audit.entries()
    assert [e.id for e in newest] == [undo, second, first]
    assert newest[2].entry == merge and newest[2].at == T0
    assert newest[2].undone_by == undo and newest[0].undone_by is None
    assert [e.id for e in store.audit.entries(before=undo, limit=1)] == [second]
    assert [e.id for e in store.audit.entries(actor="steward-ann")] == [first]
    assert [e.id for e in store.audit.entries(action="undo")] == [undo]
    found = store.audit.get([first, 999])
    assert list(found) == [first] and found[first].undone_by == undo


def test_redacting_entries_replaces_target_before_and_after_and_keeps_the_rest(
    store: Store,
) -> None:
    first, second = store.audit.append(
        [
            AuditEntry("ann", "separate_records", "crm/C1|shop/7", "dupes", {"r": [["crm", "C1"]]}),
            AuditEntry("bob", "merge_profiles", "p1,p2", None, {}, {"r": [["crm", "C2"]]}),
        ],
        T0,
    )
    undo = store.audit.append([AuditEntry("ann", "undo", None, None, undoes=first)], T0)[0]
    stored = store.audit.get([first])[first]

    store.audit.redact(
        [
            replace(
                stored,
                entry=replace(
                    stored.entry, target="crm/erased-1|shop/7", before={"r": [["crm", "erased-1"]]}
                ),
            ),
            replace(stored, id=999),
        ]
    )

    got = store.audit.get([first, second])
    assert got[first].entry == replace(
        stored.entry, target="crm/erased-1|shop/7", before={"r": [["crm", "erased-1"]]}
    )
    assert (got[first].at, got[first].undone_by) == (T0, undo)
    assert got[second].entry.after == {"r": [["crm", "C2"]]}
