"""Segments: ``(:Segment)`` with ``(:SegmentMember)`` and ``(:SegmentChange)`` nodes keyed by
segment name and profile id.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime

from identity.errors import StoreError
from identity.model import (
    JSONValue,
    MembershipChange,
    MembershipKind,
    ProfileId,
    SegmentChange,
    SegmentRow,
)
from identity.store.changes import dumps
from identity.store.neo4j.connection import Area, Row, Statements
from identity.store.ports import SegmentPort


def segment_change_from_row(row: Row) -> SegmentChange:
    """A logged membership change (read here, and by :mod:`.copy` for whole-store copies)."""
    return SegmentChange(
        int(row["seq"]),
        row["segment"],
        row["profile_id"],
        MembershipKind(row["kind"]),
        datetime.fromisoformat(row["at"]),
        row["merged_into"],
    )


def require_segments(s: Statements, names: Collection[str]) -> None:
    missing = [row["name"] for row in s.batched("missing_segments", "names", sorted(names))]
    if missing:
        raise StoreError(
            f"cannot change the members of segments this store does not hold: "
            f"{', '.join(missing)}; define them (or import their definitions) first"
        )


def apply_members(
    s: Statements, changes: Sequence[MembershipChange] | Sequence[SegmentChange]
) -> None:
    """Members as the changes leave them: the last change of each (segment, profile),
    in the given order, decides (a profile may enter, exit and enter again)."""
    final: dict[tuple[str, ProfileId], MembershipKind] = {}
    for c in changes:
        final[(c.segment, c.profile_id)] = MembershipKind(c.kind)
    rows = {
        kind: [
            {"segment": segment, "profile_id": pid}
            for (segment, pid), k in final.items()
            if k == kind
        ]
        for kind in MembershipKind
    }
    s.batched("add_segment_members", "rows", rows[MembershipKind.ENTERED])
    s.batched("remove_segment_members", "rows", rows[MembershipKind.EXITED])


class Neo4jSegments(Area, SegmentPort):
    """Segment definitions, members and the membership change log."""

    def put(self, name: str, definition: dict[str, JSONValue], now: datetime) -> None:
        self._db.write(
            "segments.put",
            lambda s: s.run(
                "put_segment", name=name, definition=dumps(definition), now=now.isoformat()
            ),
        )

    def get(self, names: Collection[str] | None = None) -> list[SegmentRow]:
        wanted = sorted(set(names)) if names is not None else None
        rows = self._db.read("segments.get", lambda s: s.run("get_segments", names=wanted))
        return [
            SegmentRow(
                row["name"],
                json.loads(row["definition"]),
                datetime.fromisoformat(row["created_at"]),
                datetime.fromisoformat(row["updated_at"]),
            )
            for row in rows
        ]

    def delete(self, name: str) -> bool:
        rows = self._db.write("segments.delete", lambda s: s.run("delete_segment", name=name))
        return int(rows[0]["deleted"]) > 0

    def members(
        self, name: str, after: ProfileId | None = None, limit: int = 1000
    ) -> list[ProfileId]:
        rows = self._db.read(
            "segments.members",
            lambda s: s.run("segment_members", name=name, after=after or "", limit=limit),
        )
        return [str(row["profile_id"]) for row in rows]

    def sizes(self, names: Collection[str] | None = None) -> dict[str, int]:
        wanted = sorted(set(names)) if names is not None else None
        rows = self._db.read("segments.sizes", lambda s: s.run("segment_sizes", names=wanted))
        return {row["name"]: int(row["members"]) for row in rows}

    def memberships_of(self, profile_ids: Collection[ProfileId]) -> dict[ProfileId, list[str]]:
        found: dict[ProfileId, list[str]] = {pid: [] for pid in profile_ids}
        ids = list(found)
        rows = self._db.read(
            "segments.memberships_of", lambda s: s.batched("memberships_of", "ids", ids)
        )
        for row in rows:
            found[row["profile_id"]].append(row["segment"])
        return found

    def apply_changes(self, changes: Sequence[MembershipChange], now: datetime) -> None:
        if not changes:
            return
        at = now.isoformat()

        def work(s: Statements) -> None:
            require_segments(s, {c.segment for c in changes})
            first = int(s.run("allocate_change_seqs", count=len(changes))[0]["first"])
            apply_members(s, changes)
            rows = [
                {
                    "seq": first + offset,
                    "segment": c.segment,
                    "profile_id": c.profile_id,
                    "kind": MembershipKind(c.kind).value,
                    "at": at,
                    "merged_into": c.merged_into,
                }
                for offset, c in enumerate(changes)
            ]
            s.batched("log_segment_changes", "rows", rows)

        self._db.write("segments.apply_changes", work)

    def changes(self, name: str, after: int = 0, limit: int = 1000) -> list[SegmentChange]:
        rows = self._db.read(
            "segments.changes",
            lambda s: s.run("segment_changes", name=name, after=after, limit=limit),
        )
        return [segment_change_from_row(row) for row in rows]

    def last_change_seq(self) -> int:
        rows = self._db.read("segments.last_change_seq", lambda s: s.run("last_change_seq"))
        return int(rows[0]["seq"]) if rows else 0
