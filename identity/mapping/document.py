"""The mapping document: what a source's TOML says, validated when loaded with errors
naming the file and the field (the format is documented in docs/sources.md)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from identity.config_tables import SOURCE_NAME
from identity.errors import ConfigError
from identity.limits import composed, printable, text_problem
from identity.mapping.dates import format_problem
from identity.mapping.derived import DerivedField, derived_field
from identity.mapping.paths import PathSyntaxError, parse_path
from identity.mapping.regions import region_code
from identity.model import JSONValue
from identity.rules import Rules

AttributeType = Literal[
    "string", "name", "full_name", "address", "date", "datetime", "number", "boolean"
]
ATTRIBUTE_TYPES: tuple[str, ...] = (
    "string",
    "name",
    "full_name",
    "address",
    "date",
    "datetime",
    "number",
    "boolean",
)
FORMATS: tuple[str, ...] = ("csv", "jsonl")
DEFAULT_PRIORITY = 50
DEFAULT_ENCODING = "utf-8"
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "on"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "off"})
_ATTRIBUTE_KEYS = frozenset({"name", "type", "format", "formats", "day_first"})
_TOP_LEVEL = frozenset(
    {
        "source",
        "key",
        "timestamp",
        "timestamp_format",
        "timezone",
        "phone_region",
        "priority",
        "retention_days",
        "keep_unknown",
        "format",
        "csv_delimiter",
        "encoding",
        "allow_multiline",
        "identifiers",
        "attributes",
        "consent",
        "derived",
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
    formats: tuple[str, ...] = ()
    """``strptime`` formats for dates and datetimes, the first that reads a value wins;
    ISO 8601 when none (identity/mapping/dates.py)."""
    day_first: bool | None = None
    """Whether an ambiguous numeric date (03/04/1990) puts the day first."""


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
    """Region for phone numbers written without +country code (the default, with a field)."""
    phone_region_field: str | None = None
    """A field holding each row's country (code or English name) for its phone numbers."""
    priority: int = DEFAULT_PRIORITY
    keep_unknown: bool = True
    format: str | None = None
    csv_delimiter: str = ","
    encoding: str = DEFAULT_ENCODING
    """The text encoding of the source's files (a Python codec name: ``cp1252``)."""
    allow_multiline: bool = False
    """Accept a quoted CSV value that spans lines even where a line in it looks like a row
    of its own (identity/readers.py); the file is refused otherwise."""
    derived: tuple[DerivedField, ...] = ()
    """Values computed from the row's fields (identity/mapping/derived.py)."""
    consent: Mapping[str, str] = field(default_factory=dict)
    """Consent purpose -> a boolean attribute of this mapping: each record states consent
    for the purpose at its timestamp (see identity/consent.py)."""
    retention_days: int | None = None
    """Days a record of this source is kept after its time (its timestamp, else its last
    change); ``idgraph retention apply`` deletes older ones. None keeps them."""

    @classmethod
    def from_document(
        cls, doc: Mapping[str, Any], path: str = "mapping", rules: Rules | None = None
    ) -> SourceMapping:
        """Validate a parsed mapping. With ``rules``, every identifier kind must be declared.

        Raises ConfigError naming ``path`` and the field.
        """
        if not isinstance(doc, Mapping):
            raise ConfigError("a mapping must be a table / JSON object", path=path)
        plain_text_only(doc, path)
        # Rows are NFC when they are mapped (identity/limits.py): so are the names here.
        doc = composed(doc)
        unknown = sorted(set(doc) - _TOP_LEVEL)
        if unknown:
            raise ConfigError(
                f"unknown setting; allowed: {', '.join(sorted(_TOP_LEVEL))}",
                path=path,
                field=unknown[0],
            )
        source = doc.get("source")
        if not isinstance(source, str) or not SOURCE_NAME.match(source):
            raise ConfigError(
                "give the source's name: lower-case letters, digits, '_' and '-' "
                f"(at most 64), got {source!r}",
                path=path,
                field="source",
            )
        key = mapped_field(doc.get("key"), path, "key", required=True)
        assert key is not None
        check_path(key, path, "key", single=True)
        timestamp = mapped_field(doc.get("timestamp"), path, "timestamp")
        if timestamp is not None:
            check_path(timestamp, path, "timestamp", single=True)
        timestamp_format = optional_text(doc.get("timestamp_format"), path, "timestamp_format")
        timezone = timezone_setting(doc, path)
        region, region_field = phone_region_setting(doc.get("phone_region"), path)
        priority = doc.get("priority", DEFAULT_PRIORITY)
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise ConfigError(
                f"must be an integer (higher wins), got {priority!r}", path=path, field="priority"
            )
        retention_days = doc.get("retention_days")
        if retention_days is not None and (
            isinstance(retention_days, bool)
            or not isinstance(retention_days, int)
            or not 1 <= retention_days <= 100_000
        ):
            raise ConfigError(
                f"must be a whole number of days from 1 to 100,000, got {retention_days!r}; "
                "leave it out to keep records for good",
                path=path,
                field="retention_days",
            )
        keep_unknown = doc.get("keep_unknown", True)
        if not isinstance(keep_unknown, bool):
            raise ConfigError("must be true or false", path=path, field="keep_unknown")
        fmt, delimiter, encoding = file_settings(doc, path)
        allow_multiline = doc.get("allow_multiline", False)
        if not isinstance(allow_multiline, bool):
            raise ConfigError("must be true or false", path=path, field="allow_multiline")
        attributes = _attribute_fields(doc.get("attributes", {}), path)
        derived = _derived_fields(doc.get("derived", {}), attributes, path, rules)
        return cls(
            source=source,
            key=key,
            identifiers=identifier_fields(doc.get("identifiers", {}), path, rules),
            attributes=attributes,
            derived=derived,
            consent=_consent_fields(doc.get("consent", {}), attributes, path, rules),
            timestamp=timestamp,
            timestamp_format=timestamp_format,
            timezone=timezone,
            phone_region=region,
            phone_region_field=region_field,
            priority=priority,
            retention_days=retention_days,
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
        if self.phone_region_field is not None:
            region: dict[str, JSONValue] = {"field": self.phone_region_field}
            if self.phone_region is not None:
                region["default"] = self.phone_region
            doc["phone_region"] = region
        doc["timezone"] = self.timezone
        doc["priority"] = self.priority
        if self.retention_days is not None:
            doc["retention_days"] = self.retention_days
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
            if a.formats:
                spec["formats"] = list(a.formats)
            if a.day_first is not None:
                spec["day_first"] = a.day_first
            attributes[a.field] = spec
        doc["attributes"] = attributes
        if self.derived:
            doc["derived"] = {d.name: d.to_document() for d in self.derived}
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


def plain_text_only(doc: Mapping[str, Any], path: str) -> None:
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


def phone_region_setting(raw: object, path: str) -> tuple[str | None, str | None]:
    """``phone_region = "GB"`` or ``{ field = "country", default = "GB" }``: the default
    region and the field naming each row's country (identity/mapping/regions.py)."""
    if raw is None:
        return None, None
    where = "phone_region"
    field_name: str | None = None
    default: object = raw
    if isinstance(raw, Mapping):
        extra = sorted(set(raw) - {"field", "default"})
        if extra:
            raise ConfigError("allowed: field, default", path=path, field=f"{where}.{extra[0]}")
        field_name = mapped_field(raw.get("field"), path, f"{where}.field", required=True)
        assert field_name is not None
        check_path(field_name, path, f"{where}.field", single=True)
        default = raw.get("default")
        where = f"{where}.default"
        if default is None:
            return None, field_name
    if not isinstance(default, str) or not default:
        raise ConfigError(
            'use phone_region = "GB" or phone_region = { field = "country", default = "GB" }',
            path=path,
            field=where,
        )
    region = region_code(default)
    if region is None:
        raise ConfigError(
            f"unknown phone region {default!r}; use an ISO 3166 code like 'GB' or 'DE'",
            path=path,
            field=where,
        )
    return region, field_name


def check_path(text: str, path: str, where: str, single: bool = False) -> None:
    """A mapped field is a column, a JSON key or a path into nested JSON (identity/mapping/
    paths.py); a path that cannot be read is refused at load, naming its place."""
    try:
        parsed = parse_path(text)
    except PathSyntaxError as error:
        raise ConfigError(str(error), path=path, field=where) from None
    if single and parsed.many:
        raise ConfigError(
            f"the path {text!r} yields every element ([*]) but this field takes one value: "
            "use an index such as [0]",
            path=path,
            field=where,
        )


def optional_text(value: object, path: str, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"must be a non-empty string, got {value!r}", path=path, field=name)
    return value


def mapped_field(value: object, path: str, name: str, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(
            "name the field (CSV column or JSON key) that holds it", path=path, field=name
        )
    return value


def identifier_fields(raw: object, path: str, rules: Rules | None) -> tuple[IdentifierField, ...]:
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
            split = optional_text(spec.get("split"), path, f"{where}.split")
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
        check_path(name, path, where)
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
        extra = sorted(set(spec) - _ATTRIBUTE_KEYS)
        if extra:
            raise ConfigError(
                f"allowed: {', '.join(sorted(_ATTRIBUTE_KEYS))}",
                path=path,
                field=f"{where}.{extra[0]}",
            )
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
        formats, day_first = _date_options(spec, kind, path, where)
        check_path(name, path, where, single=True)
        result.append(
            AttributeField(
                field=name,
                name=canonical,
                type=cast(AttributeType, kind),
                formats=formats,
                day_first=day_first,
            )
        )
    return tuple(result)


def _derived_fields(
    raw: object, attributes: Sequence[AttributeField], path: str, rules: Rules | None
) -> tuple[DerivedField, ...]:
    if not isinstance(raw, Mapping):
        raise ConfigError(
            "must be a table of name = { concat = [...] } (or split, constant, lower, mailbox)",
            path=path,
            field="derived",
        )
    taken = {a.name: f"attributes.{a.field}" for a in attributes}
    result = []
    for name, spec in raw.items():
        where = f"derived.{name}"
        derived, typing = derived_field(name, spec, path)
        for number, source in enumerate(derived.fields):
            place = f"{where}.{derived.operation}"
            if derived.operation == "concat":
                place += f"[{number}]"
            check_path(source, path, place, single=True)
        if derived.kind is not None:
            if rules is not None and derived.kind not in rules.kinds:
                raise ConfigError(
                    f"unknown identifier kind '{derived.kind}'; declared in the rules: "
                    f"{', '.join(sorted(rules.kinds))}",
                    path=path,
                    field=f"{where}.kind",
                )
        else:
            if name in taken:
                raise ConfigError(
                    f"'{name}' is already the name of {taken[name]}", path=path, field=where
                )
            kind = typing.get("type", "string")
            if kind not in ATTRIBUTE_TYPES:
                raise ConfigError(
                    f"must be one of {', '.join(ATTRIBUTE_TYPES)}, got {kind!r}",
                    path=path,
                    field=f"{where}.type",
                )
            formats, day_first = _date_options(typing, kind, path, where)
            derived = replace(derived, type=kind, formats=formats, day_first=day_first)
            taken[name] = where
        result.append(derived)
    return tuple(result)


def _date_options(
    spec: Mapping[str, Any], kind: object, path: str, where: str
) -> tuple[tuple[str, ...], bool | None]:
    """``format``, ``formats`` and ``day_first`` of a date or datetime attribute."""
    for option in ("format", "formats", "day_first"):
        if option in spec and kind not in ("date", "datetime"):
            raise ConfigError(
                f"{option} only applies to date and datetime",
                path=path,
                field=f"{where}.{option}",
            )
    if "format" in spec and "formats" in spec:
        raise ConfigError("give format or formats, not both", path=path, field=f"{where}.formats")
    raw = spec.get("formats", [spec["format"]] if "format" in spec else [])
    option = "formats" if "formats" in spec else "format"
    if not isinstance(raw, list) or not all(isinstance(f, str) and f for f in raw):
        raise ConfigError(
            'must be a list of strptime formats: ["%Y-%m-%d", "%d/%m/%Y"]',
            path=path,
            field=f"{where}.{option}",
        )
    for number, fmt in enumerate(raw):
        problem = format_problem(fmt)
        if problem is not None:
            place = f"{where}.formats[{number}]" if option == "formats" else f"{where}.format"
            raise ConfigError(problem, path=path, field=place)
    day_first = spec.get("day_first")
    if day_first is not None and not isinstance(day_first, bool):
        raise ConfigError("must be true or false", path=path, field=f"{where}.day_first")
    return tuple(raw), day_first


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


def timezone_setting(doc: Mapping[str, Any], path: str) -> str:
    """The mapping's ``timezone`` (an IANA name, UTC when absent), refused naming the field
    when unknown."""
    timezone = optional_text(doc.get("timezone"), path, "timezone") or "UTC"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"unknown time zone {timezone!r}; use an IANA name like 'Europe/London'",
            path=path,
            field="timezone",
        ) from None
    return timezone


def file_settings(doc: Mapping[str, Any], path: str) -> tuple[str | None, str, str]:
    """A mapping's ``format``, ``csv_delimiter`` and ``encoding``, checked: record and
    event mappings read their files the same way."""
    fmt = optional_text(doc.get("format"), path, "format")
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
    return fmt, delimiter, encoding
