"""Whole-graph aggregates of the quality page (QualityPort) in Neo4j: one aggregating
statement each (cypher/quality_*.cypher), counts only.

The one exception is :meth:`Neo4jQuality.ingest_warnings`: an ingest entry's per-field
warnings are a JSON object in the entry's text, which Cypher cannot take apart without
APOC, so the statement returns one small row per audited load with warnings and the
adapter sums them (bounded by the number of loads, never by records or links).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime

from identity.model import LinkType
from identity.store.neo4j.connection import Area
from identity.store.ports import (
    FieldWarningCount,
    MatcherLinkCount,
    QualityPort,
    QueueSizeSample,
    WeightBinCount,
)


class Neo4jQuality(Area, QualityPort):
    """Counts of links, profiles, the review queue and ingest warnings."""

    def match_weight_bins(self, width: float) -> list[WeightBinCount]:
        rows = self._db.read(
            "quality.match_weight_bins",
            lambda s: s.run("quality_match_weight_bins", width=float(width)),
        )
        return [
            WeightBinCount(int(row["bin"]), int(row["links"]), int(row["reviews"])) for row in rows
        ]

    def profile_sizes(self) -> dict[int, int]:
        rows = self._db.read("quality.profile_sizes", lambda s: s.run("quality_profile_sizes"))
        return {int(row["size"]): int(row["profiles"]) for row in rows}

    def links_by_matcher(self) -> list[MatcherLinkCount]:
        rows = self._db.read(
            "quality.links_by_matcher", lambda s: s.run("quality_links_by_matcher")
        )
        return [
            MatcherLinkCount(row["matcher"], LinkType(row["type"]), int(row["links"]))
            for row in rows
        ]

    def review_queue_samples(self, last: int) -> list[QueueSizeSample]:
        rows = self._db.read(
            "quality.review_queue_samples",
            lambda s: s.run("quality_review_queue_samples", last=last),
        )
        return [
            QueueSizeSample(int(row["id"]), datetime.fromisoformat(row["at"]), int(row["size"]))
            for row in reversed(rows)
        ]

    def ingest_warnings(self) -> list[FieldWarningCount]:
        rows = self._db.read("quality.ingest_warnings", lambda s: s.run("quality_ingest_loads"))
        warnings: Counter[tuple[str, str]] = Counter()
        loads: Counter[tuple[str, str]] = Counter()
        for row in rows:
            found = json.loads(row["after"]).get(self.WARNINGS_BY_FIELD_KEY)
            if not isinstance(found, dict):
                continue
            for field, count in found.items():
                # As the embedded store's statement: whole positive counts only.
                if isinstance(count, int) and not isinstance(count, bool) and count > 0:
                    warnings[(row["source"], field)] += count
                    loads[(row["source"], field)] += 1
        return [
            FieldWarningCount(source, field, n, loads[(source, field)])
            for (source, field), n in sorted(
                warnings.items(), key=lambda item: (-item[1], item[0][0], item[0][1])
            )
        ]
