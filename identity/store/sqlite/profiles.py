"""Profiles, the records they hold and the profile change log (ProfilePort) in SQLite."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from datetime import datetime

from identity.model import (
    IdentifierKey,
    ProfileChangeKind,
    ProfileChangeRecord,
    ProfileChanges,
    ProfileId,
    ProfileRow,
    RecordId,
)
from identity.store.changes import change_log_rows, dumps, fold_merges
from identity.store.ports import ProfilePort
from identity.store.sqlite.connection import Connection
from identity.store.sqlite.records import key_list
from identity.store.sqlite.statements import statement


def _sql(name: str) -> str:
    return statement("profiles", name)


class SQLiteProfiles(ProfilePort):
    def __init__(self, db: Connection) -> None:
        self._db = db

    def ids_of(self, record_ids: Collection[RecordId]) -> dict[RecordId, ProfileId]:
        with self._db.reading("profiles.ids_of") as conn:
            rows = conn.execute(_sql("profile_ids_of"), {"ids": dumps(list(record_ids))})
            return dict(rows.fetchall())

    def records_of(self, profile_ids: Collection[ProfileId]) -> dict[ProfileId, list[RecordId]]:
        result: dict[ProfileId, list[RecordId]] = {pid: [] for pid in profile_ids}
        with self._db.reading("profiles.records_of") as conn:
            for pid, rid in conn.execute(_sql("records_of_profiles"), {"ids": dumps(list(result))}):
                result[pid].append(rid)
        return result

    def get(self, profile_ids: Collection[ProfileId]) -> dict[ProfileId, ProfileRow]:
        with self._db.reading("profiles.get") as conn:
            rows = conn.execute(_sql("get_profiles"), {"ids": dumps(list(profile_ids))}).fetchall()
        return {
            pid: ProfileRow(
                pid,
                datetime.fromisoformat(created),
                datetime.fromisoformat(updated),
                tuple(json.loads(merged)),
                split_from,
            )
            for pid, created, updated, merged, split_from in rows
        }

    def resolve(self, profile_ids: Collection[ProfileId]) -> dict[ProfileId, ProfileId]:
        ids = list(profile_ids)
        with self._db.reading("profiles.resolve") as conn:
            rows = conn.execute(_sql("profile_status"), {"ids": dumps(ids)}).fetchall()
            targets = {pid: target for pid, status, target in rows if status == "merged"}
            live = {pid for pid, status, _ in rows if status == "live"}
            if targets:
                # Redirects are kept pointing at the final survivor; check it is still live.
                pending = dumps(sorted(set(targets.values())))
                live.update(
                    pid
                    for pid, status, _ in conn.execute(_sql("profile_status"), {"ids": pending})
                    if status == "live"
                )
        result: dict[ProfileId, ProfileId] = {}
        for pid in ids:
            target = targets.get(pid, pid)
            if target in live:
                result[pid] = target
        return result

    def with_identifiers(
        self, keys: Collection[IdentifierKey]
    ) -> dict[IdentifierKey, list[ProfileId]]:
        result: dict[IdentifierKey, list[ProfileId]] = {IdentifierKey(*k): [] for k in keys}
        with self._db.reading("profiles.with_identifiers") as conn:
            for kind, value, pid in conn.execute(_sql("profiles_with"), {"keys": key_list(keys)}):
                result[IdentifierKey(kind, value)].append(pid)
        return result

    def apply(self, changes: ProfileChanges, now: datetime) -> None:
        db = self._db
        stamp = now.isoformat()
        with db.transaction("profiles.apply"):
            db.executemany(
                _sql("create_profile"),
                [(pid, stamp, stamp, changes.split_from.get(pid)) for pid in changes.created],
            )
            db.executemany(
                _sql("assign_record"), [(pid, rid) for rid, pid in changes.assignments.items()]
            )
            # One read per retired id and per survivor, as the merges apply: each id's history
            # before the batch (a retire only empties the retired id's own history).
            histories: dict[ProfileId, list[ProfileId]] = {}
            for pid in [*sorted(changes.merged), *sorted(set(changes.merged.values()))]:
                row = db.execute(_sql("merged_from"), (pid,)).fetchone()
                if row is not None:
                    histories.setdefault(pid, json.loads(row[0]))
            fold = fold_merges(changes.merged, histories)
            for retired, survivor in fold.steps:
                db.execute(
                    _sql("retire_profile"), {"survivor": survivor, "now": stamp, "retired": retired}
                )
                db.execute(_sql("follow_redirects"), {"survivor": survivor, "retired": retired})
            for survivor, merged in fold.survivors.items():
                db.execute(_sql("set_merged_from"), (dumps(merged), stamp, survivor))
            db.executemany(_sql("delete_profile"), [(stamp, pid) for pid in changes.deleted])
            db.executemany(_sql("touch_profile"), [(stamp, pid) for pid in sorted(changes.touched)])
            db.executemany(
                _sql("log_profile_change"),
                [
                    (kind.value, pid, stamp, related)
                    for kind, pid, related in change_log_rows(changes)
                ],
            )

    def changes(self, after: int = 0, limit: int = 1000) -> list[ProfileChangeRecord]:
        with self._db.reading("profiles.changes") as conn:
            rows = conn.execute(_sql("profile_change_log"), (after, limit)).fetchall()
        return [
            ProfileChangeRecord(
                seq, ProfileChangeKind(kind), pid, datetime.fromisoformat(at), related
            )
            for seq, kind, pid, at, related in rows
        ]

    def scan_ids(self, batch_size: int = 10_000) -> Iterator[ProfileId]:
        for rows in self._db.pages(
            "profiles.scan_ids", _sql("profile_ids_page"), ("",), batch_size
        ):
            yield from (pid for (pid,) in rows)
