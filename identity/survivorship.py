"""The golden record: one value per attribute, chosen by survivorship rules, with provenance.

Rules are applied in order, each keeping only the best candidates by its measure, until the
candidates agree on one value: ``source_priority`` (the source mapping's priority),
``most_recent`` (record timestamp, or when the record was received if it has none) and
``most_frequent`` (how many of the profile's records carry the value, compared after
normalisation). A last tie is broken by (source, record key) so the result never depends
on storage order.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from identity.model import GoldenAttribute, JSONValue, Provenance, StoredRecord
from identity.normalise import normalise_text
from identity.rules import SurvivorshipRules

DEFAULT_PRIORITY = 50


@dataclass(frozen=True, slots=True)
class _Candidate:
    value: JSONValue
    comparable: str
    record: StoredRecord
    priority: int
    recency: datetime


def _comparable(value: JSONValue) -> str:
    if isinstance(value, str):
        return normalise_text(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _is_empty(value: JSONValue) -> bool:
    return value is None or value == "" or value == [] or value == {}


def golden_record(
    records: Sequence[StoredRecord],
    priorities: Mapping[str, int],
    rules: SurvivorshipRules,
) -> tuple[GoldenAttribute, ...]:
    """Choose every attribute present in ``records``; sorted by attribute name."""
    held: dict[str, list[tuple[JSONValue, StoredRecord]]] = {}
    for stored in records:
        for name, value in stored.record.attributes.items():
            if not _is_empty(value):
                held.setdefault(name, []).append((value, stored))
    chosen: list[GoldenAttribute] = []
    for name in sorted(held):
        found = held[name]
        if len(found) == 1:
            # Most attributes of most profiles have one candidate: nothing to compare.
            value, stored = found[0]
            chosen.append(_golden(name, value, stored, "only_value", 1))
            continue
        pool = [
            _Candidate(
                value,
                _comparable(value),
                stored,
                priorities.get(stored.record.source, DEFAULT_PRIORITY),
                stored.record.timestamp or stored.updated_at,
            )
            for value, stored in found
        ]
        chosen.append(_choose(name, pool, rules.rules_for(name)))
    return tuple(chosen)


def _golden(
    name: str, value: JSONValue, stored: StoredRecord, rule: str, candidates: int
) -> GoldenAttribute:
    rec = stored.record
    return GoldenAttribute(
        name=name,
        value=value,
        provenance=Provenance(rec.source, rec.key, rec.timestamp),
        rule=rule,
        candidates=candidates,
    )


def _choose(name: str, pool: list[_Candidate], order: Sequence[str]) -> GoldenAttribute:
    frequency = Counter(c.comparable for c in pool)
    measures: dict[str, Callable[[_Candidate], object]] = {
        "source_priority": lambda c: c.priority,
        "most_recent": lambda c: c.recency,
        "most_frequent": lambda c: frequency[c.comparable],
    }
    remaining = pool
    rule = "only_value"
    for rule_name in order:
        if len({c.comparable for c in remaining}) == 1:
            break
        measure = measures[rule_name]
        best = max(measure(c) for c in remaining)  # type: ignore[type-var]
        narrowed = [c for c in remaining if measure(c) == best]
        if len(narrowed) < len(remaining):
            rule = rule_name
        remaining = narrowed
    if len({c.comparable for c in remaining}) > 1:
        rule = "tie_break"
    chosen = min(remaining, key=lambda c: (c.record.ref, c.comparable))
    return _golden(name, chosen.value, chosen.record, rule, len(pool))
