"""Checking a mapping against a file before loading it: for each mapped field how often it
has a value and how often that value fails to parse (with examples), which mapped fields
the file never holds, and a preview of the records (or, for an event mapping, the events)
the rows become.

Nothing is stored; the caller reads the rows (at most a sample) and shows the report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as default
from typing import TYPE_CHECKING

from identity.errors import RowProblem
from identity.mapping.events import EventRowMapper
from identity.mapping.mapper import RecordMapper
from identity.model import Event, JSONValue, SourceRecord

if TYPE_CHECKING:  # the parser's module ingests and stores; checking needs only its parse
    from identity.events import EventParser

EXAMPLES = 3
PREVIEW = 5


@dataclass(slots=True)
class FieldCheck:
    """How one mapped field fares in the rows read."""

    field: str
    role: str
    """What the field maps to: ``key``, ``email`` (an identifier kind), ``attribute
    birth_date (date)``, ``timestamp``, ``phone region``, ``derived name``."""
    seen: int = 0
    """Rows in which the field exists (possibly empty)."""
    filled: int = 0
    """Rows in which it holds a value."""
    failed: int = 0
    """Rows in which its value did not parse (a warning or error on the field)."""
    examples: list[str] = default(default_factory=list)
    """Up to three values that failed, with why."""


@dataclass(slots=True)
class MappingCheck:
    """The outcome of :func:`check_mapping`."""

    rows: int = 0
    unreadable: list[RowProblem] = default(default_factory=list)
    """Rows the reader could not make a row of (a JSON line that is no object)."""
    rejected: int = 0
    fields: list[FieldCheck] = default(default_factory=list)
    preview: list[SourceRecord] = default(default_factory=list)
    event_preview: list[Event] = default(default_factory=list)
    """For an event mapping: the first events the rows become."""

    @property
    def never_seen(self) -> list[str]:
        """Mapped fields no row read holds: a misspelt column or path."""
        return [f.field for f in self.fields if f.seen == 0 and not f.field.startswith("derived.")]


def _roles(mapper: RecordMapper) -> list[FieldCheck]:
    m = mapper.mapping
    checks = [FieldCheck(m.key, "key")]
    checks += [FieldCheck(i.field, f"identifier {i.kind}") for i in m.identifiers]
    checks += [FieldCheck(a.field, f"attribute {a.name} ({a.type})") for a in m.attributes]
    if m.timestamp:
        checks.append(FieldCheck(m.timestamp, "timestamp"))
    if m.phone_region_field:
        checks.append(FieldCheck(m.phone_region_field, "phone region"))
    for d in m.derived:
        role = f"identifier {d.kind}" if d.kind else f"attribute {d.name} ({d.type})"
        checks.append(FieldCheck(d.place, f"derived {role}"))
    unique: dict[str, FieldCheck] = {}
    for check in checks:  # a key that is also an identifier is one field
        if check.field in unique:
            unique[check.field].role += f", {check.role}"
        else:
            unique[check.field] = check
    return list(unique.values())


def _filled(value: JSONValue) -> bool:
    if isinstance(value, list):
        return any(_filled(v) for v in value)
    return value is not None and not (isinstance(value, str) and not value.strip())


def check_mapping(
    rows: Iterable[tuple[int, dict[str, JSONValue] | RowProblem]], mapper: RecordMapper
) -> MappingCheck:
    """Map every row of ``rows`` (numbered as the readers number them) and count, per
    mapped field, the rows that hold it, fill it and fail to parse it."""
    report = MappingCheck(fields=_roles(mapper))
    by_field = {f.field: f for f in report.fields}
    for number, row in rows:
        report.rows += 1
        if isinstance(row, RowProblem):
            report.unreadable.append(row)
            continue
        mapped = mapper.map_row(row, number)
        for check in report.fields:
            if check.field.startswith("derived."):
                check.seen += 1
            elif mapper.present(row, check.field):
                check.seen += 1
                check.filled += _filled(mapper.get(row, check.field))
        derived_values = mapper.derived_values(row)
        for place, value in derived_values.items():
            by_field[place].filled += _filled(value)
        failed: set[str] = set()
        for problem in [*mapped.errors, *mapped.warnings]:
            at_fault = by_field.get(problem.field or "")
            if at_fault is None or at_fault.field in failed:
                continue
            failed.add(at_fault.field)
            at_fault.failed += 1
            if len(at_fault.examples) < EXAMPLES:
                shown = repr(problem.value) if problem.value is not None else "(no value)"
                at_fault.examples.append(f"{shown}: {problem.problem}")
        if mapped.record is None:
            report.rejected += 1
        elif len(report.preview) < PREVIEW:
            report.preview.append(mapped.record)
    return report


def _event_roles(mapper: EventRowMapper) -> list[FieldCheck]:
    m = mapper.mapping
    named = [(m.event_id, "event_id"), (m.type, "type"), (m.timestamp, "timestamp")]
    named += [(m.channel, "channel"), (m.source, "source")]
    named += [(m.phone_region_field, "phone region")]
    checks = [FieldCheck(f, role) for f, role in named if f]
    checks += [FieldCheck(i.field, f"identifier {i.kind}") for i in m.identifiers]
    return checks


def check_event_mapping(
    rows: Iterable[tuple[int, dict[str, JSONValue] | RowProblem]],
    mapper: EventRowMapper,
    parser: EventParser,
) -> MappingCheck:
    """As :func:`check_mapping`, for an event mapping: each row becomes the event object
    the mapping makes and is validated as `idgraph ingest-events` would; a row the parser
    refuses (no usable identifier, no timestamp) counts as rejected."""
    report = MappingCheck(fields=_event_roles(mapper))
    m = mapper.mapping
    by_role = {
        "event_id": m.event_id,
        "type": m.type,
        "timestamp": m.timestamp,
        "channel": m.channel,
        "source": m.source,
    }
    by_field = {f.field: f for f in report.fields}
    kinds: dict[str, list[str]] = {}
    for spec in m.identifiers:
        kinds.setdefault(spec.kind, []).append(spec.field)
    for number, row in rows:
        report.rows += 1
        if isinstance(row, RowProblem):
            report.unreadable.append(row)
            continue
        for check in report.fields:
            if mapper.present(row, check.field):
                check.seen += 1
                check.filled += _filled(mapper.get(row, check.field))
        parsed = parser.parse(mapper.to_event(row), number)
        failed: set[str] = set()
        for problem in [*parsed.errors, *parsed.warnings]:
            name = problem.field or ""
            if name.startswith("identifiers."):
                # The parser names the kind; blame the mapped fields of that kind that hold
                # a value in this row.
                held = [f for f in kinds.get(name.split(".", 1)[1], []) if mapper.get(row, f)]
                fields = held[:1]
            else:
                fields = [f for f in [by_role.get(name)] if f]
            for place in fields:
                at_fault = by_field.get(place)
                if at_fault is None or place in failed:
                    continue
                failed.add(place)
                at_fault.failed += 1
                if len(at_fault.examples) < EXAMPLES:
                    value = mapper.get(row, place)
                    shown = repr(str(value)[:40]) if value is not None else "(no value)"
                    at_fault.examples.append(f"{shown}: {problem.problem}")
        if parsed.event is None:
            report.rejected += 1
        elif len(report.event_preview) < PREVIEW:
            report.event_preview.append(parsed.event)
    return report
