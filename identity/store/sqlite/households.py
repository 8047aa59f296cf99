"""Households (HouseholdPort) in SQLite: a row per household with its members and evidence
as JSON, a row per member for the profile-to-household lookup (queries/households.sql)."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from identity.model import ProfileId
from identity.store.ports import HouseholdCorrection, HouseholdPort, HouseholdRow
from identity.store.sqlite.connection import Connection
from identity.store.sqlite.statements import statement


def _sql(name: str) -> str:
    return statement("households", name)


def _row(household_id: str, members: str, evidence: str, since: str) -> HouseholdRow:
    return HouseholdRow(
        household_id,
        tuple(json.loads(members)),
        tuple((t, a, b) for t, a, b in json.loads(evidence)),
        since,
    )


def _params(row: HouseholdRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "members": json.dumps(list(row.members)),
        "evidence": json.dumps([list(e) for e in row.evidence]),
        "since": row.since,
    }


class SQLiteHouseholds(HouseholdPort):
    def __init__(self, db: Connection) -> None:
        self._db = db

    def _write(self, households: Sequence[HouseholdRow]) -> None:
        self._db.executemany(_sql("put_households"), [_params(h) for h in households])
        self._db.executemany(
            _sql("put_members"),
            [{"profile_id": p, "household_id": h.id} for h in households for p in h.members],
        )

    def replace(self, households: Sequence[HouseholdRow]) -> None:
        with self._db.transaction("households.replace"):
            self._db.execute(_sql("clear_households"))
            if households:
                self._write(households)

    def put(self, households: Sequence[HouseholdRow], removed: Collection[str] = ()) -> None:
        if not households and not removed:
            return
        with self._db.transaction("households.put"):
            if removed:
                self._db.execute(_sql("delete_households"), {"ids": json.dumps(sorted(removed))})
            if households:
                ids = json.dumps(sorted(h.id for h in households))
                self._db.execute(_sql("clear_members_of"), {"ids": ids})
                self._write(households)

    def of_profiles(self, profile_ids: Collection[ProfileId]) -> dict[ProfileId, HouseholdRow]:
        if not profile_ids:
            return {}
        with self._db.reading("households.of_profiles") as conn:
            rows = conn.execute(
                _sql("households_of_profiles"), {"ids": json.dumps(sorted(set(profile_ids)))}
            ).fetchall()
        return {pid: _row(*rest) for pid, *rest in rows}

    def get(self, household_ids: Collection[str]) -> dict[str, HouseholdRow]:
        if not household_ids:
            return {}
        with self._db.reading("households.get") as conn:
            rows = conn.execute(
                _sql("get_households"), {"ids": json.dumps(sorted(set(household_ids)))}
            ).fetchall()
        return {row[0]: _row(*row) for row in rows}

    def scan(self, batch_size: int = 10_000) -> Iterator[list[HouseholdRow]]:
        for rows in self._db.pages("households.scan", _sql("households_page"), ("",), batch_size):
            yield [_row(*row) for row in rows]

    def count(self) -> tuple[int, int]:
        with self._db.reading("households.count") as conn:
            households, members = conn.execute(_sql("count_households")).fetchone()
        return int(households), int(members)

    def put_corrections(
        self, corrections: Sequence[HouseholdCorrection], removed: Collection[str] = ()
    ) -> None:
        if not corrections and not removed:
            return
        with self._db.transaction("households.put_corrections"):
            if removed:
                self._db.execute(_sql("delete_corrections"), {"ids": json.dumps(sorted(removed))})
            self._db.executemany(
                _sql("put_corrections"),
                [
                    {
                        "key": c.key,
                        "kind": c.kind,
                        "profiles": json.dumps(list(c.profiles)),
                        "actor": c.actor,
                        "reason": c.reason,
                        "at": c.at,
                    }
                    for c in corrections
                ],
            )

    def corrections(self) -> list[HouseholdCorrection]:
        with self._db.reading("households.corrections") as conn:
            rows = conn.execute(_sql("corrections")).fetchall()
        return [
            HouseholdCorrection(kind, tuple(json.loads(profiles)), actor, reason, at)
            for kind, profiles, actor, reason, at in rows
        ]
