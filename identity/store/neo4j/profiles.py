"""Profiles: ``(:Record)-[:IN_PROFILE]->(:Profile)``, ``(:Profile)-[:REDIRECTS_TO]->(:Profile)``
for merged ids, and the ``(:ProfileChange)`` log.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import datetime
from typing import Any

from identity.model import (
    IdentifierKey,
    ProfileChangeKind,
    ProfileChangeRecord,
    ProfileChanges,
    ProfileId,
    ProfileRow,
    RecordId,
)
from identity.store.changes import change_log_rows, fold_merges, unique
from identity.store.neo4j.connection import Area, Row, Statements, identifier_keys, last
from identity.store.neo4j.cypher import statement
from identity.store.ports import ProfilePort


def _profile_change(row: Row) -> ProfileChangeRecord:
    """A logged profile change as ``profile_change_log`` returns it."""
    return ProfileChangeRecord(
        int(row["seq"]),
        ProfileChangeKind(row["kind"]),
        row["profile_id"],
        datetime.fromisoformat(row["at"]),
        row["related"],
    )


def _merge(s: Statements, changes: ProfileChanges) -> list[dict[str, Any]]:
    """The profile rows a batch of merges rewrites, from one read of the profiles
    involved (and the ids redirecting to them), folded as the embedded store applies
    merges (:func:`identity.store.changes.fold_merges`)."""
    involved = sorted(set(changes.merged) | set(changes.merged.values()))
    status: dict[ProfileId, str] = {}
    histories: dict[ProfileId, list[ProfileId]] = {}
    redirects: dict[ProfileId, ProfileId | None] = {}
    for row in s.batched("profile_states", "ids", involved):
        pid = row["id"]
        status[pid] = row["status"]
        histories[pid] = list(row["merged_from"] or ())
        redirects[pid] = row["redirect_to"]
        for follower in row["followers"]:
            redirects.setdefault(follower, pid)
    fold = fold_merges(changes.merged, histories, redirects)
    redirects.update(fold.redirects)
    rows: list[dict[str, Any]] = []
    for pid in fold.changed:
        if pid in status:
            rows.append(
                {
                    "id": pid,
                    "status": "merged" if pid in changes.merged else status[pid],
                    "merged_from": fold.histories.get(pid, histories[pid]),
                    "redirect_to": redirects.get(pid),
                    "touch": pid in fold.touched,
                }
            )
        else:  # an id that only followed a retired one: just its redirect moves
            rows.append({"id": pid, "redirect_to": redirects[pid], "touch": False})
    return rows


class Neo4jProfiles(Area, ProfilePort):
    """Profiles, their redirects and their change log."""

    def ids_of(self, record_ids: Collection[RecordId]) -> dict[RecordId, ProfileId]:
        ids = unique(record_ids)
        rows = self._db.read("profiles.ids_of", lambda s: s.batched("profile_ids_of", "ids", ids))
        return {int(row["record_id"]): row["profile_id"] for row in rows}

    def records_of(self, profile_ids: Collection[ProfileId]) -> dict[ProfileId, list[RecordId]]:
        result: dict[ProfileId, list[RecordId]] = {pid: [] for pid in profile_ids}
        ids = list(result)
        rows = self._db.read(
            "profiles.records_of", lambda s: s.batched("records_of_profiles", "ids", ids)
        )
        for row in rows:
            result[row["profile_id"]].append(int(row["record_id"]))
        return result

    def get(self, profile_ids: Collection[ProfileId]) -> dict[ProfileId, ProfileRow]:
        ids = unique(profile_ids)
        rows = self._db.read("profiles.get", lambda s: s.batched("get_profiles", "ids", ids))
        return {
            row["id"]: ProfileRow(
                row["id"],
                datetime.fromisoformat(row["created_at"]),
                datetime.fromisoformat(row["updated_at"]),
                tuple(row["merged_from"] or ()),
                row["split_from"],
            )
            for row in rows
        }

    def resolve(self, profile_ids: Collection[ProfileId]) -> dict[ProfileId, ProfileId]:
        ids = unique(profile_ids)
        rows = self._db.read(
            "profiles.resolve", lambda s: s.batched("resolve_profile_ids", "ids", ids)
        )
        live = {row["id"]: row["live_id"] for row in rows}
        return {pid: live[pid] for pid in profile_ids if pid in live}

    def with_identifiers(
        self, keys: Collection[IdentifierKey]
    ) -> dict[IdentifierKey, list[ProfileId]]:
        result: dict[IdentifierKey, list[ProfileId]] = {IdentifierKey(*k): [] for k in keys}
        wanted = identifier_keys(keys)
        rows = self._db.read(
            "profiles.with_identifiers", lambda s: s.batched("profiles_with", "keys", wanted)
        )
        for row in rows:
            result[IdentifierKey(row["kind"], row["value"])].append(row["profile_id"])
        return result

    def apply(self, changes: ProfileChanges, now: datetime) -> None:
        stamp = now.isoformat()
        created = [
            {"id": pid, "split_from": changes.split_from.get(pid)} for pid in changes.created
        ]
        assignments = [
            {"record_id": rid, "profile_id": pid} for rid, pid in changes.assignments.items()
        ]
        logged = change_log_rows(changes)

        def work(s: Statements) -> None:
            s.batched("create_profiles", "rows", created, now=stamp)
            s.batched("assign_records", "rows", assignments)
            if changes.merged:
                s.batched("update_profile_states", "rows", _merge(s, changes), now=stamp)
            s.batched("delete_profiles", "ids", list(changes.deleted), now=stamp)
            s.batched("touch_profiles", "ids", sorted(changes.touched), now=stamp)
            if not logged:
                return
            # Seqs from the sequence node, in this transaction: a concurrent writer waits on
            # its lock until this one commits or rolls back, so seqs become visible in order
            # and a consumer's cursor never skips one.
            first = int(s.run("allocate_profile_change_seqs", count=len(logged))[0]["first"])
            rows = [
                {
                    "seq": first + offset,
                    "kind": ProfileChangeKind(kind).value,
                    "profile_id": pid,
                    "at": stamp,
                    "related": related,
                }
                for offset, (kind, pid, related) in enumerate(logged)
            ]
            s.batched("log_profile_changes", "rows", rows)

        self._db.write("profiles.apply", work)

    def changes(self, after: int = 0, limit: int = 1000) -> list[ProfileChangeRecord]:
        rows = self._db.read(
            "profiles.changes",
            lambda s: s.run("profile_change_log", after=after, limit=limit),
        )
        return [_profile_change(row) for row in rows]

    def scan_ids(self, batch_size: int = 10_000) -> Iterator[ProfileId]:
        pages = self._db.pages(
            "profiles.scan_ids", statement("profile_ids_page"), "", last("id", str), batch_size
        )
        for rows in pages:
            yield from (str(row["id"]) for row in rows)
