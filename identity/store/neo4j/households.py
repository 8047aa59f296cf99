"""Households (HouseholdPort) in Neo4j: a ``(:Household {id})`` node with its members (a
list) and evidence (JSON text), a ``(:HouseholdMember {profile_id})`` node per member for
the profile-to-household lookup, and ``(:HouseholdCorrection {key})`` nodes. Keyed by
profile id like the read model's nodes, not related to ``(:Profile)``: households are
derived, rebuilt whole, and must not slow the profile writes."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from identity.model import ProfileId
from identity.store.neo4j.connection import Area, Row, Statements, last
from identity.store.neo4j.cypher import statement
from identity.store.ports import HouseholdCorrection, HouseholdPort, HouseholdRow

CLEAR_BATCH = 10_000
"""Nodes one statement of :meth:`Neo4jHouseholds.replace` deletes."""


def _row(row: Row) -> HouseholdRow:
    return HouseholdRow(
        str(row["id"]),
        tuple(row["members"]),
        tuple((t, a, b) for t, a, b in json.loads(row["evidence"])),
        str(row["since"]),
    )


def _params(row: HouseholdRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "members": list(row.members),
        "evidence": json.dumps([list(e) for e in row.evidence]),
        "since": row.since,
    }


class Neo4jHouseholds(Area, HouseholdPort):
    def replace(self, households: Sequence[HouseholdRow]) -> None:
        params = [_params(h) for h in households]

        def work(s: Statements) -> None:
            while int(s.run("clear_households", limit=CLEAR_BATCH)[0]["deleted"]) >= CLEAR_BATCH:
                pass
            s.batched("put_households", "rows", params)

        self._db.write("households.replace", work)

    def put(self, households: Sequence[HouseholdRow], removed: Collection[str] = ()) -> None:
        if not households and not removed:
            return
        gone = sorted(set(removed))
        rewritten = sorted({h.id for h in households} | set(gone))
        params = [_params(h) for h in households]

        def work(s: Statements) -> None:
            s.batched("delete_household_members", "ids", rewritten)
            s.batched("delete_households", "ids", gone)
            s.batched("put_households", "rows", params)

        self._db.write("households.put", work)

    def of_profiles(self, profile_ids: Collection[ProfileId]) -> dict[ProfileId, HouseholdRow]:
        ids = sorted(set(profile_ids))
        if not ids:
            return {}
        rows = self._db.read(
            "households.of_profiles", lambda s: s.batched("households_of_profiles", "ids", ids)
        )
        return {str(row["profile_id"]): _row(row) for row in rows}

    def get(self, household_ids: Collection[str]) -> dict[str, HouseholdRow]:
        ids = sorted(set(household_ids))
        if not ids:
            return {}
        rows = self._db.read("households.get", lambda s: s.batched("get_households", "ids", ids))
        return {str(row["id"]): _row(row) for row in rows}

    def scan(self, batch_size: int = 10_000) -> Iterator[list[HouseholdRow]]:
        for rows in self._db.pages(
            "households.scan", statement("households_page"), "", last("id", str), batch_size
        ):
            yield [_row(row) for row in rows]

    def count(self) -> tuple[int, int]:
        row = self._db.read("households.count", lambda s: s.run("count_households"))[0]
        return int(row["households"]), int(row["members"])

    def put_corrections(
        self, corrections: Sequence[HouseholdCorrection], removed: Collection[str] = ()
    ) -> None:
        if not corrections and not removed:
            return
        gone = sorted(set(removed))
        rows = [
            {
                "key": c.key,
                "kind": c.kind,
                "profiles": list(c.profiles),
                "actor": c.actor,
                "reason": c.reason,
                "at": c.at,
            }
            for c in corrections
        ]

        def work(s: Statements) -> None:
            s.batched("delete_household_corrections", "ids", gone)
            s.batched("put_household_corrections", "rows", rows)

        self._db.write("households.put_corrections", work)

    def corrections(self) -> list[HouseholdCorrection]:
        rows = self._db.read("households.corrections", lambda s: s.run("household_corrections"))
        return [
            HouseholdCorrection(
                str(r["kind"]),
                tuple(r["profiles"]),
                str(r["actor"]),
                str(r["reason"]),
                str(r["at"]),
            )
            for r in rows
        ]
