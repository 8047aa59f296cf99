"""Event mappings: the same mapping form for event files (CSV or JSON Lines) as for
records, turning a row of any shape into the event object identity/events.py takes.

Cookie and device columns map like any identifier (``cookie = "cookie_id"``); fields may be
paths into nested JSON; a timestamp may have a format and a zone; phones are read in the
row's region (``phone_region``, a code or ``{ field = ..., default = ... }``). Fields not
mapped are kept as the event's properties.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from identity.errors import ConfigError, InvalidIdentifier
from identity.limits import composed
from identity.mapping.dates import parse_datetime
from identity.mapping.document import (
    DEFAULT_ENCODING,
    IdentifierField,
    check_path,
    file_settings,
    identifier_fields,
    mapped_field,
    optional_text,
    phone_region_setting,
    plain_text_only,
    timezone_setting,
)
from identity.mapping.paths import parse_path
from identity.mapping.regions import region_code
from identity.model import JSONValue
from identity.normalise import Normaliser
from identity.rules import Rules

_SETTINGS = frozenset(
    {
        "event_id",
        "type",
        "timestamp",
        "timestamp_format",
        "timezone",
        "channel",
        "source",
        "phone_region",
        "identifiers",
        "format",
        "csv_delimiter",
        "encoding",
    }
)


@dataclass(frozen=True, slots=True)
class EventMapping:
    """How one event file's rows become events."""

    event_id: str
    timestamp: str
    identifiers: tuple[IdentifierField, ...]
    type: str | None = None
    """The field holding the event's type, or None with ``type_constant``."""
    type_constant: str | None = None
    timestamp_format: str | None = None
    timezone: str = "UTC"
    channel: str | None = None
    source: str | None = None
    phone_region: str | None = None
    phone_region_field: str | None = None
    format: str | None = None
    csv_delimiter: str = ","
    encoding: str = DEFAULT_ENCODING

    @classmethod
    def from_document(
        cls, doc: Mapping[str, Any], path: str = "mapping", rules: Rules | None = None
    ) -> EventMapping:
        """Validate a parsed event mapping; raises ConfigError naming ``path`` and the field."""
        if not isinstance(doc, Mapping):
            raise ConfigError("an event mapping must be a table", path=path)
        plain_text_only(doc, path)
        # The rows it maps are made NFC first (EventRowMapper.to_event): so are its names.
        doc = composed(doc)
        unknown = sorted(set(doc) - _SETTINGS)
        if unknown:
            raise ConfigError(
                f"unknown setting; allowed: {', '.join(sorted(_SETTINGS))}",
                path=path,
                field=unknown[0],
            )
        fields: dict[str, str | None] = {}
        for name, required in (
            ("event_id", True),
            ("timestamp", True),
            ("channel", False),
            ("source", False),
        ):
            fields[name] = mapped_field(doc.get(name), path, name, required=required)
            if fields[name] is not None:
                check_path(str(fields[name]), path, name, single=True)
        kind = doc.get("type")
        type_field: str | None = None
        type_constant: str | None = None
        if isinstance(kind, Mapping):
            extra = sorted(set(kind) - {"constant"})
            constant = kind.get("constant")
            if extra or not isinstance(constant, str) or not constant.strip():
                raise ConfigError(
                    'use type = "field" or type = { constant = "page_view" }',
                    path=path,
                    field=f"type.{extra[0]}" if extra else "type",
                )
            type_constant = constant.strip()
        else:
            type_field = mapped_field(kind, path, "type", required=True)
            assert type_field is not None
            check_path(type_field, path, "type", single=True)
        timezone = timezone_setting(doc, path)
        region, region_field = phone_region_setting(doc.get("phone_region"), path)
        fmt, delimiter, encoding = file_settings(doc, path)
        identifiers = identifier_fields(doc.get("identifiers", {}), path, rules)
        if not identifiers:
            raise ConfigError(
                'map at least one identifier: cookie = "cookie_id"', path=path, field="identifiers"
            )
        event_id, timestamp = fields["event_id"], fields["timestamp"]
        assert event_id is not None and timestamp is not None
        return cls(
            event_id=event_id,
            timestamp=timestamp,
            identifiers=identifiers,
            type=type_field,
            type_constant=type_constant,
            timestamp_format=optional_text(doc.get("timestamp_format"), path, "timestamp_format"),
            timezone=timezone,
            channel=fields["channel"],
            source=fields["source"],
            phone_region=region,
            phone_region_field=region_field,
            format=fmt,
            csv_delimiter=delimiter,
            encoding=encoding,
        )


def load_event_mapping(path: Path, rules: Rules | None = None) -> EventMapping:
    """Read and validate an event mapping TOML file."""
    try:
        doc = tomllib.loads(path.read_text("utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read the mapping: {error.strerror}", path=str(path)) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"not valid TOML: {error}", path=str(path)) from None
    return EventMapping.from_document(doc, path=str(path), rules=rules)


class EventRowMapper:
    """Turns a file's row into the event object :class:`identity.events.EventParser`
    validates; what it cannot convert it passes on for the parser to report."""

    def __init__(self, mapping: EventMapping, normaliser: Normaliser) -> None:
        self.mapping = mapping
        self.normaliser = normaliser
        self._zone: tzinfo = ZoneInfo(mapping.timezone)
        m = mapping
        named = [m.event_id, m.timestamp, m.type, m.channel, m.source, m.phone_region_field]
        names = [n for n in named if n] + [i.field for i in m.identifiers]
        self._paths = {n: parse_path(n) for n in names}
        self._mapped = frozenset(
            {*names, *(p.top for p in self._paths.values())} - {m.phone_region_field}
        )

    def _get(self, row: Mapping[str, JSONValue], name: str | None) -> JSONValue:
        return None if name is None else self._paths[name].get(row)

    def get(self, row: Mapping[str, JSONValue], name: str) -> JSONValue:
        """The value of mapped field ``name`` in ``row`` (a list for a ``[*]`` path)."""
        return self._paths[name].get(row)

    def present(self, row: Mapping[str, JSONValue], name: str) -> bool:
        """Whether ``row`` holds mapped field ``name`` at all (even empty)."""
        return bool(self._paths[name].values(row))

    def to_event(self, row: Mapping[str, JSONValue]) -> dict[str, JSONValue]:
        """The event object a raw row makes. The row is made NFC first, so the mapping's
        field names (NFC too) find its columns however the file spelled their accents;
        the event is checked against the input limits when it is ingested."""
        row = composed(row)
        m = self.mapping
        event: dict[str, JSONValue] = {
            "event_id": _text(self._get(row, m.event_id)),
            "type": m.type_constant or _text(self._get(row, m.type)),
            "timestamp": self._timestamp(self._get(row, m.timestamp)),
        }
        for name, field_name in (("channel", m.channel), ("source", m.source)):
            value = _text(self._get(row, field_name))
            if value is not None:
                event[name] = value
        region = m.phone_region
        country = self._get(row, m.phone_region_field)
        if isinstance(country, str) and country.strip():
            region = region_code(country) or region
        identifiers: dict[str, list[JSONValue]] = {}
        for spec in m.identifiers:
            value = self._get(row, spec.field)
            items = value if isinstance(value, list) else [value]
            for item in items:
                text = _text(item)
                if text is None:
                    continue
                parts = text.split(spec.split) if spec.split else [text]
                for part in (p.strip() for p in parts):
                    if part:
                        identifiers.setdefault(spec.kind, []).append(
                            self._regional(spec.kind, part, region)
                        )
        event["identifiers"] = dict(identifiers)
        event["properties"] = {
            name: value
            for name, value in row.items()
            if name not in self._mapped and value is not None and value != ""
        }
        return event

    def _regional(self, kind: str, value: str, region: str | None) -> str:
        """A phone written without +country code, in E.164 by the row's region (the event
        parser knows no region); anything else as written."""
        rule = self.normaliser.rules.kinds.get(kind)
        if region is None or rule is None or rule.normaliser != "phone":
            return value
        try:
            return self.normaliser.identifier(kind, value, region).value
        except InvalidIdentifier:
            return value  # the parser reports it

    def _timestamp(self, value: JSONValue) -> JSONValue:
        if not isinstance(value, str):
            return value
        formats = [self.mapping.timestamp_format] if self.mapping.timestamp_format else []
        parsed = parse_datetime(value.strip(), formats)
        if parsed is None:
            return value  # the parser reports it
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=self._zone)
        return parsed.isoformat()


def _text(value: JSONValue) -> str | None:
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    return text or None
