"""Source mappings: a declarative description of one source's rows, and the mapper that
turns a row into a :class:`SourceRecord` with per-field errors and warnings.

The format is documented in docs/sources.md. A mapping is validated when loaded, with
errors naming the file and the field; a row is mapped without ever raising.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from identity.errors import ConfigError, InvalidIdentifier, RowProblem
from identity.limits import InputLimits, printable, text_problem
from identity.model import Identifier, IdentifierKey, JSONValue, SourceRecord
from identity.normalise import Normaliser
from identity.rules import Rules

AttributeType = Literal["string", "name", "date", "datetime", "number", "boolean"]
ATTRIBUTE_TYPES: tuple[str, ...] = ("string", "name", "date", "datetime", "number", "boolean")
FORMATS: tuple[str, ...] = ("csv", "jsonl")
DEFAULT_PRIORITY = 50
DEFAULT_ENCODING = "utf-8"
_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_TRUE = frozenset({"true", "t", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "off"})
_TOP_LEVEL = frozenset(
    {
        "source",
        "key",
        "timestamp",
        "timestamp_format",
        "timezone",
        "phone_region",
        "priority",
        "keep_unknown",
        "format",
        "csv_delimiter",
        "encoding",
        "allow_multiline",
        "identifiers",
        "attributes",
        "consent",
    }
)


@dataclass(frozen=True, slots=True)
class IdentifierField:
    """A field whose value(s) are identifiers of one kind."""

    field: str
    kind: str
    split: str | None = None
    """Delimiter for several values in one text field (JSON arrays need none)."""


@dataclass(frozen=True, slots=True)
class AttributeField:
    """A field kept as a typed attribute under a canonical name."""

    field: str
    name: str
    type: AttributeType = "string"
    format: str | None = None
    """``strptime`` format for dates and datetimes; ISO 8601 when None."""


@dataclass(frozen=True, slots=True)
class SourceMapping:
    """How one source's rows become records."""

    source: str
    key: str
    identifiers: tuple[IdentifierField, ...] = ()
    attributes: tuple[AttributeField, ...] = ()
    timestamp: str | None = None
    timestamp_format: str | None = None
    timezone: str = "UTC"
    phone_region: str | None = None
    priority: int = DEFAULT_PRIORITY
    keep_unknown: bool = True
    format: str | None = None
    csv_delimiter: str = ","
    encoding: str = DEFAULT_ENCODING
    """The text encoding of the source's files (a Python codec name: ``cp1252``)."""
    allow_multiline: bool = False
    """Accept a quoted CSV value that spans lines even where a line in it looks like a row
    of its own (identity/readers.py); the file is refused otherwise."""
    consent: Mapping[str, str] = field(default_factory=dict)
    """Consent purpose -> a boolean attribute of this mapping: each record states consent
    for the purpose at its timestamp (see identity/consent.py)."""

    @classmethod
    def from_document(
        cls, doc: Mapping[str, Any], path: str = "mapping", rules: Rules | None = None
    ) -> SourceMapping:
        """Validate a parsed mapping. With ``rules``, every identifier kind must be declared.

        Raises ConfigError naming ``path`` and the field.
        """
        if not isinstance(doc, Mapping):
            raise ConfigError("a mapping must be a table / JSON object", path=path)
        _plain_text(doc, path)
        unknown = sorted(set(doc) - _TOP_LEVEL)
        if unknown:
            raise ConfigError(
                f"unknown setting; allowed: {', '.join(sorted(_TOP_LEVEL))}",
                path=path,
                field=unknown[0],
            )
        source = doc.get("source")
        if not isinstance(source, str) or not _SOURCE_NAME.match(source):
            raise ConfigError(
                "give the source's name: lower-case letters, digits, '_' and '-' "
                f"(at most 64), got {source!r}",
                path=path,
                field="source",
            )
        key = _field_name(doc.get("key"), path, "key", required=True)
        assert key is not None
        timestamp = _field_name(doc.get("timestamp"), path, "timestamp")
        timestamp_format = _optional_str(doc.get("timestamp_format"), path, "timestamp_format")
        timezone = _optional_str(doc.get("timezone"), path, "timezone") or "UTC"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"unknown time zone {timezone!r}; use an IANA name like 'Europe/London'",
                path=path,
                field="timezone",
            ) from None
        region = _optional_str(doc.get("phone_region"), path, "phone_region")
        if region is not None:
            region = region.upper()
            if region not in phonenumbers.SUPPORTED_REGIONS:
                raise ConfigError(
                    f"unknown phone region {region!r}; use an ISO 3166 code like 'GB' or 'DE'",
                    path=path,
                    field="phone_region",
                )
        priority = doc.get("priority", DEFAULT_PRIORITY)
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise ConfigError(
                f"must be an integer (higher wins), got {priority!r}", path=path, field="priority"
            )
        keep_unknown = doc.get("keep_unknown", True)
        if not isinstance(keep_unknown, bool):
            raise ConfigError("must be true or false", path=path, field="keep_unknown")
        fmt = _optional_str(doc.get("format"), path, "format")
        if fmt is not None and fmt not in FORMATS:
            raise ConfigError(
                f"must be one of {', '.join(FORMATS)}, got {fmt!r}", path=path, field="format"
            )
        delimiter = doc.get("csv_delimiter", ",")
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            raise ConfigError(
                f"must be a single character, got {delimiter!r}", path=path, field="csv_delimiter"
            )
        encoding = doc.get("encoding", DEFAULT_ENCODING)
        problem = encoding_problem(encoding) if isinstance(encoding, str) else None
        if not isinstance(encoding, str) or problem is not None:
            raise ConfigError(
                problem or f"must be the name of a text encoding, got {encoding!r}",
                path=path,
                field="encoding",
            )
        allow_multiline = doc.get("allow_multiline", False)
        if not isinstance(allow_multiline, bool):
            raise ConfigError("must be true or false", path=path, field="allow_multiline")
        attributes = _attribute_fields(doc.get("attributes", {}), path)
        return cls(
            source=source,
            key=key,
            identifiers=_identifier_fields(doc.get("identifiers", {}), path, rules),
            attributes=attributes,
            consent=_consent_fields(doc.get("consent", {}), attributes, path, rules),
            timestamp=timestamp,
            timestamp_format=timestamp_format,
            timezone=timezone,
            phone_region=region,
            priority=priority,
            keep_unknown=keep_unknown,
            format=fmt,
            csv_delimiter=delimiter,
            encoding=encoding,
            allow_multiline=allow_multiline,
        )

    def to_document(self) -> dict[str, JSONValue]:
        """The mapping as a JSON/TOML document that :meth:`from_document` reads back."""
        doc: dict[str, JSONValue] = {"source": self.source, "key": self.key}
        optional = {
            "timestamp": self.timestamp,
            "timestamp_format": self.timestamp_format,
            "phone_region": self.phone_region,
            "format": self.format,
        }
        doc.update({k: v for k, v in optional.items() if v is not None})
        doc["timezone"] = self.timezone
        doc["priority"] = self.priority
        doc["keep_unknown"] = self.keep_unknown
        doc["csv_delimiter"] = self.csv_delimiter
        doc["encoding"] = self.encoding
        doc["allow_multiline"] = self.allow_multiline
        doc["identifiers"] = {
            i.field: ({"kind": i.kind, "split": i.split} if i.split else i.kind)
            for i in self.identifiers
        }
        attributes: dict[str, JSONValue] = {}
        for a in self.attributes:
            spec: dict[str, JSONValue] = {"name": a.name, "type": a.type}
            if a.format is not None:
                spec["format"] = a.format
            attributes[a.field] = spec
        doc["attributes"] = attributes
        if self.consent:
            doc["consent"] = dict(self.consent)
        return doc


def load_mapping(path: Path, rules: Rules | None = None) -> SourceMapping:
    """Read and validate a mapping TOML file."""
    try:
        text = path.read_text("utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read the mapping: {error.strerror}", path=str(path)) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"not valid TOML: {error}", path=str(path)) from None
    return SourceMapping.from_document(doc, path=str(path), rules=rules)


def encoding_problem(name: str) -> str | None:
    """Why ``name`` is not a text encoding Python can read files in, or None when it is."""
    try:
        "".encode(name)  # also refuses codecs that are not text encodings (rot13, base64)
    except LookupError:
        return (
            f"unknown text encoding {name!r}; use a name like utf-8, cp1252 (Windows "
            "Western European), latin-1 or utf-16"
        )
    return None


def _plain_text(doc: Mapping[str, Any], path: str) -> None:
    """Every name and text in a mapping is plain text: a control character or a lone
    surrogate could never match a field, and no store can keep a lone surrogate.
    Iterative, so a document nested as deep as the JSON parser allows is still checked."""
    pending: list[tuple[str, object]] = [("", doc)]
    while pending:
        where, node = pending.pop()
        items: list[tuple[object, object]] = []
        if isinstance(node, Mapping):
            items = list(node.items())
        elif isinstance(node, list):
            items = list(enumerate(node))
        for name, value in items:
            if isinstance(name, int):
                here = f"{where}[{name}]"
            else:
                here = f"{where}.{name}" if where else str(name)
            problem = text_problem(name, name=True) if isinstance(name, str) else None
            if problem is None and isinstance(value, str):
                problem = text_problem(value)  # a tab is a CSV delimiter
            if problem is not None:
                raise ConfigError(
                    f"{problem}; write it as plain text", path=path, field=printable(here)
                )
            pending.append((here, value))


def _optional_str(value: object, path: str, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"must be a non-empty string, got {value!r}", path=path, field=name)
    return value


def _field_name(value: object, path: str, name: str, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(
            "name the field (CSV column or JSON key) that holds it", path=path, field=name
        )
    return value


def _identifier_fields(raw: object, path: str, rules: Rules | None) -> tuple[IdentifierField, ...]:
    if not isinstance(raw, Mapping):
        raise ConfigError('must be a table of field = "kind"', path=path, field="identifiers")
    result = []
    for name, spec in raw.items():
        where = f"identifiers.{name}"
        split: str | None = None
        if isinstance(spec, Mapping):
            extra = sorted(set(spec) - {"kind", "split"})
            if extra:
                raise ConfigError("allowed: kind, split", path=path, field=f"{where}.{extra[0]}")
            kind = spec.get("kind")
            split = _optional_str(spec.get("split"), path, f"{where}.split")
        else:
            kind = spec
        if not isinstance(kind, str) or not kind:
            raise ConfigError(
                'give the identifier kind: field = "email" or { kind = "email" }',
                path=path,
                field=where,
            )
        if rules is not None and kind not in rules.kinds:
            raise ConfigError(
                f"unknown identifier kind '{kind}'; declared in the rules: "
                f"{', '.join(sorted(rules.kinds))}",
                path=path,
                field=where,
            )
        result.append(IdentifierField(field=name, kind=kind, split=split))
    return tuple(result)


def _attribute_fields(raw: object, path: str) -> tuple[AttributeField, ...]:
    if not isinstance(raw, Mapping):
        raise ConfigError('must be a table of field = "name"', path=path, field="attributes")
    result = []
    seen: dict[str, str] = {}
    for name, spec in raw.items():
        where = f"attributes.{name}"
        if isinstance(spec, str):
            spec = {"name": spec}
        if not isinstance(spec, Mapping):
            raise ConfigError(
                'use field = "name" or field = { name = "...", type = "..." }',
                path=path,
                field=where,
            )
        extra = sorted(set(spec) - {"name", "type", "format"})
        if extra:
            raise ConfigError("allowed: name, type, format", path=path, field=f"{where}.{extra[0]}")
        canonical = spec.get("name", name)
        if not isinstance(canonical, str) or not canonical:
            raise ConfigError("must be a non-empty string", path=path, field=f"{where}.name")
        if canonical in seen:
            raise ConfigError(
                f"'{canonical}' is already the name of field '{seen[canonical]}'",
                path=path,
                field=f"{where}.name",
            )
        seen[canonical] = name
        kind = spec.get("type", "string")
        if kind not in ATTRIBUTE_TYPES:
            raise ConfigError(
                f"must be one of {', '.join(ATTRIBUTE_TYPES)}, got {kind!r}",
                path=path,
                field=f"{where}.type",
            )
        fmt = _optional_str(spec.get("format"), path, f"{where}.format")
        if fmt is not None and kind not in ("date", "datetime"):
            raise ConfigError(
                "a format only applies to date and datetime", path=path, field=f"{where}.format"
            )
        result.append(
            AttributeField(field=name, name=canonical, type=cast(AttributeType, kind), format=fmt)
        )
    return tuple(result)


# -- mapping rows -----------------------------------------------------------------------------


def _consent_fields(
    raw: object, attributes: Sequence[AttributeField], path: str, rules: Rules | None
) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise ConfigError(
            'must be a table of purpose = "boolean attribute"', path=path, field="consent"
        )
    booleans = {a.name for a in attributes if a.type == "boolean"}
    purposes = rules.events.purposes if rules is not None else None
    found: dict[str, str] = {}
    for purpose, name in raw.items():
        where = f"consent.{purpose}"
        if purposes is not None and purpose not in purposes:
            raise ConfigError(
                f"unknown purpose; the rules declare {', '.join(purposes)}",
                path=path,
                field=where,
            )
        if not isinstance(name, str) or name not in booleans:
            raise ConfigError(
                f"must name an attribute of type boolean mapped under [attributes], got {name!r}",
                path=path,
                field=where,
            )
        found[purpose] = name
    return found


@dataclass(slots=True)
class MappedRow:
    """One row's outcome: a record (None when rejected), its errors and its warnings."""

    row: int
    record: SourceRecord | None
    errors: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)


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
        mapped = {mapping.key, *(i.field for i in mapping.identifiers)}
        mapped |= {a.field for a in mapping.attributes}
        if mapping.timestamp:
            mapped.add(mapping.timestamp)
        self._mapped = frozenset(mapped)
        self._canonical = frozenset(a.name for a in mapping.attributes)

    def map_row(self, row: Mapping[str, JSONValue], number: int) -> MappedRow:
        m = self.mapping
        key_value = row.get(m.key)
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

        identifiers: list[Identifier] = []
        seen: set[IdentifierKey] = set()
        for spec in m.identifiers:
            for raw in self._values(row.get(spec.field), spec, warn):
                try:
                    ident = self.normaliser.identifier(spec.kind, raw, m.phone_region)
                except InvalidIdentifier as error:
                    hint = " (or set phone_region in the source mapping)" * error.needs_region
                    warn(spec.field, f"{error}{hint}; kept in the record's raw data, not linked")
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
        for attr in m.attributes:
            value = row.get(attr.field)
            if _is_empty(value):
                continue
            attributes[attr.name] = self._convert(attr, value, warn, refuse)
        if result.errors:
            return result

        timestamp: datetime | None = None
        if m.timestamp is not None:
            stamp = row.get(m.timestamp)
            if not _is_empty(stamp):
                timestamp = self._timestamp(stamp, m.timestamp_format)
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
        if attr.type in ("string", "name"):
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
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            warn(attr.field, "not a yes/no value; kept as written", value)
            return value
        if attr.type == "date":
            parsed = _parse_date(value, attr.format)
            if parsed is None:
                warn(
                    attr.field,
                    f"not a date ({attr.format or 'YYYY-MM-DD'} expected); kept as written",
                    value,
                )
                return value
            return parsed.isoformat()
        stamp = self._timestamp(value, attr.format)
        if stamp is None:
            warn(
                attr.field,
                f"not a datetime ({attr.format or 'ISO 8601'} expected); kept as written",
                value,
            )
            return value
        return stamp.isoformat()

    def _timestamp(self, value: JSONValue, fmt: str | None) -> datetime | None:
        if not isinstance(value, str):
            return None
        text = value.strip()
        try:
            parsed = datetime.strptime(text, fmt) if fmt else datetime.fromisoformat(text)
        except ValueError:
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


def _parse_date(value: JSONValue, fmt: str | None) -> date | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        if fmt:
            return datetime.strptime(text, fmt).date()
        return date.fromisoformat(text)
    except ValueError:
        return None
