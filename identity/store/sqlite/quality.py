"""Whole-graph aggregates of the quality page (QualityPort) in SQLite: GROUP BY statements
in queries/quality.sql, counts only."""

from __future__ import annotations

from datetime import datetime

from identity.model import LinkType
from identity.store.ports import (
    FieldWarningCount,
    MatcherLinkCount,
    QualityPort,
    QueueSizeSample,
    WeightBinCount,
)
from identity.store.sqlite.connection import Connection
from identity.store.sqlite.statements import statement


def _sql(name: str) -> str:
    return statement("quality", name)


class SQLiteQuality(QualityPort):
    def __init__(self, db: Connection) -> None:
        self._db = db

    def match_weight_bins(self, width: float) -> list[WeightBinCount]:
        with self._db.reading("quality.match_weight_bins") as conn:
            rows = conn.execute(_sql("match_weight_bins"), {"width": float(width)}).fetchall()
        return [WeightBinCount(int(b), int(links), int(reviews)) for b, links, reviews in rows]

    def profile_sizes(self) -> dict[int, int]:
        with self._db.reading("quality.profile_sizes") as conn:
            rows = conn.execute(_sql("profile_sizes")).fetchall()
        return {int(size): int(n) for size, n in rows}

    def links_by_matcher(self) -> list[MatcherLinkCount]:
        with self._db.reading("quality.links_by_matcher") as conn:
            rows = conn.execute(_sql("links_by_matcher")).fetchall()
        return [MatcherLinkCount(m, LinkType(t), int(n)) for m, t, n in rows]

    def review_queue_samples(self, last: int) -> list[QueueSizeSample]:
        with self._db.reading("quality.review_queue_samples") as conn:
            rows = conn.execute(_sql("review_queue_samples"), {"last": last}).fetchall()
        return [
            QueueSizeSample(int(i), datetime.fromisoformat(at), int(size))
            for i, at, size in reversed(rows)
        ]

    def ingest_warnings(self) -> list[FieldWarningCount]:
        with self._db.reading("quality.ingest_warnings") as conn:
            rows = conn.execute(_sql("ingest_warnings")).fetchall()
        return [FieldWarningCount(s, f, int(w), int(n)) for s, f, w, n in rows]
