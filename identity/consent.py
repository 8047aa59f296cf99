"""Consent per purpose: statements from any source, the latest one wins.

A statement comes from a record (a boolean attribute its source mapping names under
``[consent]``, stated at the record's timestamp) or from a consent event (type
``[events].consent_type``, properties ``purpose`` and ``granted``, stated at the event's
time). A profile's consent for a purpose is its latest statement; a grant and a withdrawal
at the same instant count as a withdrawal, the safe reading.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from identity.model import Event, StoredRecord
from identity.rules import EventRules


@dataclass(frozen=True, slots=True)
class ConsentStatement:
    """The state of consent for one purpose, and who stated it when."""

    purpose: str
    granted: bool
    at: datetime
    source: str | None
    via: str
    """``record`` or ``event``: what carried the statement."""
    reference: str
    """The record key or event id that carried it."""


def consent_event_problem(
    properties: Mapping[str, object], rules: EventRules
) -> tuple[str, str] | None:
    """(field, problem) when a consent event's properties are not a statement, else None."""
    purpose = properties.get("purpose")
    if purpose not in rules.purposes:
        return "properties.purpose", f"must be one of {', '.join(rules.purposes)}, got {purpose!r}"
    granted = properties.get("granted")
    if not isinstance(granted, bool):
        return "properties.granted", f"must be true or false, got {granted!r}"
    return None


def statements(
    records: Iterable[StoredRecord],
    consent_fields: Mapping[str, Mapping[str, str]],
    events: Iterable[Event],
    rules: EventRules,
) -> list[ConsentStatement]:
    """Every consent statement of a profile's records (``consent_fields``: source ->
    purpose -> attribute) and events, in no particular order."""
    found: list[ConsentStatement] = []
    for stored in records:
        record = stored.record
        at = record.timestamp or stored.updated_at
        for purpose, attribute in consent_fields.get(record.source, {}).items():
            value = record.attributes.get(attribute)
            if isinstance(value, bool):
                found.append(
                    ConsentStatement(purpose, value, at, record.source, "record", record.key)
                )
    for event in events:
        if (
            event.type == rules.consent_type
            and consent_event_problem(event.properties, rules) is None
        ):
            purpose = str(event.properties["purpose"])
            granted = bool(event.properties["granted"])
            found.append(
                ConsentStatement(
                    purpose, granted, event.timestamp, event.source, "event", event.event_id
                )
            )
    return found


def current_consent(found: Iterable[ConsentStatement]) -> dict[str, ConsentStatement]:
    """The latest statement per purpose (a withdrawal wins a tie)."""
    latest: dict[str, ConsentStatement] = {}
    for statement in found:
        held = latest.get(statement.purpose)
        if held is None or (statement.at, not statement.granted) > (held.at, not held.granted):
            latest[statement.purpose] = statement
    return latest
