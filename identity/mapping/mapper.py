"""The record mapper: one row of a source to a :class:`SourceRecord`, never raising on bad
data but reporting each problem with its row, field and value."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, cast
from zoneinfo import ZoneInfo

from identity.errors import InvalidIdentifier, RowProblem
from identity.limits import InputLimits
from identity.mapping.addresses import parse_address
from identity.mapping.dates import ordered_formats, parse_date, parse_datetime
from identity.mapping.document import (
    FALSE_WORDS,
    TRUE_WORDS,
    AttributeField,
    AttributeType,
    IdentifierField,
    SourceMapping,
)
from identity.mapping.names import parse_full_name
from identity.mapping.paths import parse_path
from identity.mapping.regions import region_code
from identity.model import Identifier, IdentifierKey, JSONValue, SourceRecord
from identity.normalise import Normaliser


@dataclass(slots=True)
class MappedRow:
    """One row's outcome: a record (None when rejected), its errors and its warnings."""

    row: int
    record: SourceRecord | None
    errors: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)

    def __reduce__(self) -> tuple[type[MappedRow], tuple[object, ...]]:
        # Constructor arguments: bulk ingest's mapping workers send each row's outcome
        # back by pickle, and a slotted dataclass's default pickling is several times
        # slower.
        return (MappedRow, (self.row, self.record, self.errors, self.warnings))


def _is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class RecordMapper:
    """Maps rows of one source to records; never raises on bad data, reports it instead."""

    def __init__(
        self, mapping: SourceMapping, normaliser: Normaliser, limits: InputLimits | None = None
    ) -> None:
        self.mapping = mapping
        self.normaliser = normaliser
        self.limits = limits if limits is not None else normaliser.rules.limits
        self._zone: tzinfo = ZoneInfo(mapping.timezone)
        fields = [mapping.key, *(i.field for i in mapping.identifiers)]
        fields += [a.field for a in mapping.attributes]
        if mapping.timestamp:
            fields.append(mapping.timestamp)
        # Parsed once: the document checked every path when it was loaded.
        self._paths = {name: parse_path(name) for name in fields}
        # A nested path maps its top-level key: the object is in the record's raw data,
        # not repeated as an unknown attribute.
        self._mapped = frozenset({*fields, *(p.top for p in self._paths.values())})
        # Read, and still kept as attributes: a country, the columns a value is derived from.
        read_too = [mapping.phone_region_field] if mapping.phone_region_field else []
        read_too += [name for d in mapping.derived for name in d.fields]
        for name in read_too:
            self._paths.setdefault(name, parse_path(name))
        self._regions: dict[str, str | None] = {}
        # Derived values are identifiers and attributes like any other, named derived.<name>.
        self._identifiers = mapping.identifiers + tuple(
            IdentifierField(field=d.place, kind=d.kind) for d in mapping.derived if d.kind
        )
        self._attributes = mapping.attributes + tuple(
            AttributeField(
                field=d.place,
                name=d.name,
                type=cast(AttributeType, d.type),
                formats=d.formats,
                day_first=d.day_first,
            )
            for d in mapping.derived
            if d.kind is None
        )
        self._formats = {a.field: ordered_formats(a.formats, a.day_first) for a in self._attributes}
        self._canonical = frozenset(a.name for a in self._attributes)

    def get(self, row: Mapping[str, JSONValue], name: str) -> JSONValue:
        """The value of mapped field ``name`` in ``row`` (a list for a ``[*]`` path)."""
        return self._paths[name].get(row)

    def present(self, row: Mapping[str, JSONValue], name: str) -> bool:
        """Whether ``row`` holds mapped field ``name`` at all (even empty)."""
        return bool(self._paths[name].values(row))

    def derived_values(self, row: Mapping[str, JSONValue]) -> dict[str, JSONValue]:
        """The row's derived values by their place (``derived.<name>``), before typing."""
        return {d.place: d.compute(lambda name: self.get(row, name)) for d in self.mapping.derived}

    def map_row(self, row: Mapping[str, JSONValue], number: int) -> MappedRow:
        m = self.mapping
        key_value = self.get(row, m.key)
        if _is_empty(key_value):
            return MappedRow(
                number, None, [RowProblem(number, m.key, "the record key is missing or empty")]
            )
        if isinstance(key_value, bool) or not isinstance(key_value, str | int):
            return MappedRow(
                number,
                None,
                [RowProblem(number, m.key, "the record key must be a string or an integer")],
            )
        key = str(key_value).strip()
        result = MappedRow(number, None)

        # The value at fault goes with a problem for the CLI, never into its text: the
        # report is answered over HTTP, and a birth date or a name is personal.
        def warn(name: str, problem: str, value: JSONValue = None) -> None:
            shown = None if value is None else str(value)[:40]
            result.warnings.append(RowProblem(number, name, problem, key, shown))

        def refuse(name: str, problem: str, value: str) -> None:
            result.errors.append(RowProblem(number, name, problem, key, value))

        derived = self.derived_values(row)

        def value_of(name: str) -> JSONValue:
            return derived[name] if name in derived else self.get(row, name)

        region = self._region(row, warn)
        identifiers: list[Identifier] = []
        seen: set[IdentifierKey] = set()
        for spec in self._identifiers:
            for raw in self._values(value_of(spec.field), spec, warn):
                try:
                    ident = self.normaliser.identifier(spec.kind, raw, region)
                except InvalidIdentifier as error:
                    hint = " (or set phone_region in the source mapping)" * error.needs_region
                    warn(
                        spec.field,
                        f"{error}{hint}; kept in the record's raw data, not linked",
                        raw,
                    )
                    continue
                if ident.key not in seen:
                    seen.add(ident.key)
                    identifiers.append(ident)

        attributes: dict[str, JSONValue] = {}
        if m.keep_unknown:
            for name, value in row.items():
                known = name in self._mapped or name in self._canonical
                if name and not known and not _is_empty(value):
                    attributes[name] = value
        parts: dict[str, JSONValue] = {}
        for attr in self._attributes:
            value = value_of(attr.field)
            if _is_empty(value):
                continue
            if attr.type == "full_name" and isinstance(value, str):
                parts.update(parse_full_name(value))
            elif attr.type == "address" and isinstance(value, str):
                parts.update(parse_address(value))
            attributes[attr.name] = self._convert(attr, value, warn, refuse)
        for name, part in parts.items():  # a field mapped to the part itself wins
            attributes.setdefault(name, part)
        if result.errors:
            return result

        timestamp: datetime | None = None
        if m.timestamp is not None:
            stamp = self.get(row, m.timestamp)
            if not _is_empty(stamp):
                stamp_formats = [m.timestamp_format] if m.timestamp_format else []
                timestamp = self._timestamp(stamp, stamp_formats)
                if timestamp is None:
                    warn(
                        m.timestamp,
                        f"not a timestamp ({m.timestamp_format or 'ISO 8601'} expected)",
                        stamp,
                    )
        result.record = SourceRecord(
            source=m.source,
            key=key,
            identifiers=tuple(identifiers),
            attributes=attributes,
            timestamp=timestamp,
            raw=dict(row),
        )
        return result

    def _region(self, row: Mapping[str, JSONValue], warn: Any) -> str | None:
        """This row's phone region: its country field when set and known, else the default."""
        m = self.mapping
        if m.phone_region_field is None:
            return m.phone_region
        value = self.get(row, m.phone_region_field)
        if _is_empty(value) or not isinstance(value, str):
            return m.phone_region
        if value not in self._regions:
            if len(self._regions) > 10_000:  # a column of free text: stop remembering
                self._regions.clear()
            self._regions[value] = region_code(value)
        region = self._regions[value]
        if region is None:
            fallback = f"the default {m.phone_region}" if m.phone_region else "no region"
            warn(
                m.phone_region_field,
                f"not a country idgraph knows (an ISO code like GB or an English name); "
                f"phone numbers read with {fallback}",
                value,
            )
            return m.phone_region
        return region

    @staticmethod
    def _values(value: JSONValue, spec: IdentifierField, warn: Any) -> list[str]:
        if _is_empty(value):
            return []
        items = value if isinstance(value, list) else [value]
        values: list[str] = []
        for item in items:
            if _is_empty(item):
                continue
            if isinstance(item, bool) or not isinstance(item, str | int):
                warn(spec.field, "an identifier must be text or an integer", repr(item))
                continue
            text = str(item)
            if spec.split and isinstance(item, str):
                values.extend(p.strip() for p in text.split(spec.split) if p.strip())
            else:
                values.append(text)
        return values

    def _convert(self, attr: AttributeField, value: JSONValue, warn: Any, refuse: Any) -> JSONValue:
        if attr.type in ("full_name", "address") and not isinstance(value, str):
            warn(
                attr.field, f"a {attr.type.replace('_', ' ')} must be text; kept as written", value
            )
            return value
        if attr.type in ("string", "name", "full_name", "address"):
            return value.strip() if isinstance(value, str) else value
        if attr.type == "number":
            if isinstance(value, int | float) and not isinstance(value, bool):
                return value
            if isinstance(value, str):
                number = _number(value)
                if number is not None:
                    # Text such as "NaN", "inf" or "1e999" converts to what JSON cannot carry.
                    problem = self.limits.number_problem(attr.field, number, "converts to")
                    if problem is None:
                        return number
                    refuse(attr.field, problem, value[:40])
                    return value
            warn(attr.field, "not a number; kept as written", value)
            return value
        if attr.type == "boolean":
            if isinstance(value, bool):
                return value
            text = str(value).strip().casefold()
            if text in TRUE_WORDS:
                return True
            if text in FALSE_WORDS:
                return False
            warn(attr.field, "not a yes/no value; kept as written", value)
            return value
        if attr.type == "date":
            formats = self._formats[attr.field]
            parsed = parse_date(value, formats)
            if parsed is None:
                warn(
                    attr.field,
                    f"not a date ({' or '.join(formats) or 'YYYY-MM-DD'} expected); "
                    "kept as written",
                    value,
                )
                return value
            return parsed.isoformat()
        formats = self._formats[attr.field]
        stamp = self._timestamp(value, formats)
        if stamp is None:
            warn(
                attr.field,
                f"not a datetime ({' or '.join(formats) or 'ISO 8601'} expected); kept as written",
                value,
            )
            return value
        return stamp.isoformat()

    def _timestamp(self, value: JSONValue, formats: Sequence[str]) -> datetime | None:
        if not isinstance(value, str):
            return None
        parsed = parse_datetime(value.strip(), formats)
        if parsed is None:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=self._zone)
        return parsed.astimezone(UTC)


def _number(value: str) -> int | float | None:
    text = value.strip().replace("_", "")
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None
