"""A draft mapping inferred from a sample of a file's rows, for the user to edit and check.

Each column (or path into nested JSON) is classified by its name and its values: e-mail,
phone, date, first/last/full name, one-line address, postcode, city, country, timestamp,
id. The key is a column that is filled and unique in every row read. Where the guess is
weak the draft says so in a comment; nothing here is final until ``idgraph mapping
check`` says the file and the mapping agree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as default
from datetime import datetime

from identity.mapping.addresses import POSTCODE
from identity.mapping.dates import COMMON_FORMATS
from identity.mapping.regions import region_code
from identity.model import JSONValue

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9\s().\-/]{7,20}$")
_SOURCE = re.compile(r"[^a-z0-9_-]+")
_NUMERIC_DATE = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-]\d{2,4}")
_NAMED_MAILBOX = re.compile(r"<[^<>\s]+@[^<>\s]+>\s*$")
_TIMES = (" %H:%M", " %H:%M:%S")
MOST = 0.8
"""Share of a column's values that must look alike for a confident guess."""


def _words(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", name.casefold()).strip()


def _has(name: str, *words: str) -> bool:
    spaced = f" {_words(name)} "
    return any(f" {w} " in spaced for w in words)


def _id_like(path: str) -> bool:
    """A name such as ``id``, ``uid``, ``CustomerID``, ``customer_no``, ``account ref``."""
    words = _words(re.sub(r"([a-z])([A-Z])", r"\1 \2", path.split(".")[-1])).split()
    return bool(words) and (
        words[-1].endswith("id") or words[-1] in ("key", "no", "number", "ref", "code")
    )


@dataclass(slots=True)
class Column:
    """A column or path and the values read from it."""

    path: str
    values: list[str] = default(default_factory=list)
    rows: int = 0
    """Rows in which it holds a value."""
    many: bool = False
    """Whether it is a ``[*]`` path (several values per row)."""


def _scalar(value: JSONValue) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _columns(rows: Iterable[Mapping[str, JSONValue]]) -> tuple[dict[str, Column], int]:
    columns: dict[str, Column] = {}
    count = 0

    def visit(path: str, value: JSONValue, seen: set[str], many: bool) -> None:
        if isinstance(value, dict):
            for name, inner in value.items():
                visit(f"{path}.{name}" if path else name, inner, seen, many)
            return
        if isinstance(value, list):
            if any(isinstance(v, dict) for v in value):
                # Every element for identifiers ([*]); the first for attributes ([0]):
                # an attribute takes one value, and exports put the current one first.
                visit(f"{path}[0]", value[0], seen, many)
                for item in value:
                    visit(f"{path}[*]", item, seen, True)
                return
            texts = [t for t in (_scalar(v) for v in value) if t]
            column = columns.setdefault(path, Column(path))
            column.many = True
            column.values.extend(texts)
            if texts and path not in seen:
                seen.add(path)
                column.rows += 1
            return
        column = columns.setdefault(path, Column(path, many=many))
        text = _scalar(value)
        if text is not None:
            column.values.append(text)
            if path not in seen:
                seen.add(path)
                column.rows += 1

    for row in rows:
        count += 1
        visit("", dict(row), set(), False)
    return columns, count


def _share(values: list[str], test: object) -> float:
    if not values:
        return 0.0
    assert callable(test)
    return sum(1 for v in values if test(v)) / len(values)


def _date_formats(values: list[str]) -> tuple[list[str], bool | None]:
    """The common formats that read the values, and whether they are day first (None
    when the values never say)."""
    used: list[str] = []
    for value in values:
        for fmt in COMMON_FORMATS:
            try:
                datetime.strptime(value, fmt)
            except ValueError:
                continue
            if fmt not in used:
                used.append(fmt)
            break
    day_first, _ = _day_order(values)
    if day_first is not None:  # drop the reading the values rule out
        used = [f for f in used if not _contrary(f, day_first)]
        partner = {"%d/%m/%Y": "%m/%d/%Y", "%m/%d/%Y": "%d/%m/%Y"}
        used = [f for f in used if partner.get(f) not in used or not _contrary(f, day_first)]
    return used, day_first


def _day_order(values: list[str]) -> tuple[bool | None, bool]:
    """Whether numeric dates put the day first (None when no value says), and whether
    the column mixes both orders (some values only read day first, others month first)."""
    day_first = month_first = 0
    for value in values:
        match = _NUMERIC_DATE.match(value)
        if match:
            first, second = int(match.group(1)), int(match.group(2))
            day_first += first > 12
            month_first += second > 12
    if day_first and month_first:
        return None, True
    return (True if day_first else False if month_first else None), False


def _mixed_formats(values: list[str]) -> tuple[list[str], bool]:
    """For a column holding both day-first and month-first dates: the formats that read
    its values, both numeric orders kept, and the order of the majority as ``day_first``."""
    used, _ = _date_formats(values)
    for fmt, partner in (("%d/%m/%Y", "%m/%d/%Y"), ("%m/%d/%Y", "%d/%m/%Y")):
        if fmt in used and partner not in used:
            used.insert(used.index(fmt) + 1, partner)
    day = sum(1 for v in values if (m := _NUMERIC_DATE.match(v)) and int(m.group(1)) > 12)
    month = sum(1 for v in values if (m := _NUMERIC_DATE.match(v)) and int(m.group(2)) > 12)
    return used, day >= month


def _contrary(fmt: str, day_first: bool) -> bool:
    day, month = fmt.find("%d"), fmt.find("%m")
    if day < 0 or month < 0 or fmt.startswith("%Y"):
        return False
    return (day < month) != day_first


def _is_date(value: str) -> bool:
    return bool(_date_formats([value])[0])


def _is_phone(value: str) -> bool:
    digits = sum(c.isdigit() for c in value)
    return bool(_PHONE.match(value)) and 7 <= digits <= 15 and not _is_date(value)


def _is_timestamp(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return _timestamp_formats(value) != []
    return "T" in value or ":" in value


def _timestamp_formats(value: str) -> list[str]:
    """The common date formats with a time of day that read ``value`` (not ISO 8601)."""
    found = []
    for date_format in COMMON_FORMATS:
        for time_format in _TIMES:
            try:
                datetime.strptime(value, date_format + time_format)
            except ValueError:
                continue
            found.append(date_format + time_format)
    return found


def _timestamp_format(values: list[str]) -> tuple[str | None, str | None]:
    """The one ``timestamp_format`` reading a column of timestamps (None for ISO 8601),
    and a comment when the values leave the day and month order open."""
    iso = sum(1 for v in values if _iso(v))
    if iso >= len(values) / 2:
        return None, None
    counts: dict[str, int] = {}
    for value in values:
        for fmt in _timestamp_formats(value):
            counts[fmt] = counts.get(fmt, 0) + 1
    if not counts:
        return None, None
    best = max(counts.values())
    chosen = [f for f, n in counts.items() if n == best]
    if len(chosen) > 1:
        return chosen[0], f"CHECK timestamp_format: the values also read as {chosen[1]}"
    return chosen[0], None


def _iso(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_mailbox(value: str) -> bool:
    """``Ann Lee <ann@example.com>`` (a display name and an address in brackets)."""
    return bool(_NAMED_MAILBOX.search(value))


def _address_line(path: str) -> bool:
    """A name such as ``address_line1``, ``line2``, ``street``, ``addresses[0].line1``."""
    last = _words(path.split(".")[-1])
    return _has(path.split(".")[-1], "address", "addr", "street") or bool(
        re.fullmatch(r"(address )?line ?\d", last)
    )


@dataclass(slots=True)
class Suggestion:
    """The draft: TOML text and what was inferred, for tests and messages."""

    source: str
    key: str | None
    identifiers: dict[str, str] = default(default_factory=dict)
    attributes: dict[str, dict[str, JSONValue]] = default(default_factory=dict)
    comments: dict[str, str] = default(default_factory=dict)
    """Per column, why it is left out or what to check."""
    timestamp: str | None = None
    timestamp_format: str | None = None
    phone_region_field: str | None = None
    derived: dict[str, dict[str, JSONValue]] = default(default_factory=dict)
    """Values computed from columns (``[derived]``): a mailbox's parts, address lines."""
    rows: int = 0

    def to_toml(self) -> str:
        lines = [
            f"# Drafted by `idgraph mapping suggest` from {self.rows:,} rows: edit it, then run",
            "# `idgraph mapping check FILE --mapping THIS.toml` (docs/sources.md).",
            f"source = {_toml(self.source)}",
        ]
        if self.key is None:
            lines.append('key = "CHANGE_ME"  # no column is filled and unique in every row')
        else:
            why = self.comments.get(self.key) or "filled and unique in every row read"
            lines.append(f"key = {_toml(self.key)}  # {why}")
        if self.timestamp:
            why = _comment(self.comments.get(self.timestamp))
            lines.append(f"timestamp = {_toml(self.timestamp)}{why}")
            if self.timestamp_format:
                why = _comment(self.comments.get("timestamp_format"))
                lines.append(f"timestamp_format = {_toml(self.timestamp_format)}{why}")
        if self.phone_region_field:
            lines.append(
                f"phone_region = {{ field = {_toml(self.phone_region_field)}, "
                'default = "GB" }  # CHECK the default: numbers without +country code'
            )
        elif self.identifiers and "phone" in self.identifiers.values():
            lines.append('phone_region = "GB"  # CHECK: the region of numbers without +code')
        lines += ["", "[identifiers]"]
        for column, kind in self.identifiers.items():
            lines.append(f"{_toml(column)} = {_toml(kind)}{_comment(self.comments.get(column))}")
        lines += ["", "[attributes]"]
        for column, spec in self.attributes.items():
            inner = ", ".join(f"{k} = {_toml(v)}" for k, v in spec.items())
            lines.append(f"{_toml(column)} = {{ {inner} }}{_comment(self.comments.get(column))}")
        if self.derived:
            lines += ["", "[derived]"]
            for name, spec in self.derived.items():
                inner = ", ".join(f"{k} = {_toml(v)}" for k, v in spec.items())
                why = _comment(self.comments.get(f"derived.{name}"))
                lines.append(f"{_toml(name)} = {{ {inner} }}{why}")
        read = {str(f) for spec in self.derived.values() for f in _fields_of(spec)}
        mapped = {*self.identifiers, *self.attributes, *read, self.key, self.timestamp}
        mapped |= {"timestamp_format", *(f"derived.{n}" for n in self.derived)}
        unsure = [c for c in self.comments if c not in mapped]
        if unsure:
            lines += ["", "# Not mapped (kept as attributes under their own names):"]
            lines += [f"#   {c}: {self.comments[c]}" for c in unsure]
        return "\n".join(lines) + "\n"


def _fields_of(spec: Mapping[str, JSONValue]) -> list[JSONValue]:
    for operation in ("concat", "split", "lower", "mailbox"):
        value = spec.get(operation)
        if isinstance(value, list):
            return list(value)
        if value is not None:
            return [value]
    return []


def _comment(text: str | None) -> str:
    return f"  # {text}" if text else ""


def _toml(value: JSONValue) -> str:
    """A TOML value (or quoted key): strings as JSON strings, which TOML reads alike."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def suggest_mapping(
    rows: Iterable[Mapping[str, JSONValue]], source: str, kinds: Iterable[str] = ()
) -> Suggestion:
    """Infer a draft mapping from ``rows``; ``kinds`` are the identifier kinds the rules
    declare (an id column whose name is one becomes that identifier)."""
    columns, count = _columns(rows)
    name = _SOURCE.sub("_", source.casefold()).strip("_-")[:64] or "source"
    found = Suggestion(source=name, key=None, rows=count)
    declared = set(kinds)
    unique = [
        c
        for c in columns.values()
        if not c.many and c.rows == count and count and len(set(c.values)) == count
    ]
    unique.sort(key=lambda c: not _id_like(c.path))  # an id-like name first, else file order
    if unique:
        found.key = unique[0].path
        also = [c.path for c in unique[1:] if _id_like(c.path)]
        if also:
            found.comments[unique[0].path] = f"CHECK the key: also unique: {', '.join(also[:3])}"
    timestamps: list[str] = []
    address_lines: list[str] = []
    for column in columns.values():
        path, values = column.path, column.values
        twin = path.replace("[*]", "[0]") if column.many else path.replace("[0]", "[*]")
        paired = twin != path and twin in columns
        if paired and not column.many and _identifier_like(columns[twin]):
            continue  # every element is mapped through the [*] path
        if not values:
            found.comments[path] = "never filled in the rows read"
            continue
        words = _words(path.replace("[*]", "").replace("[0]", ""))
        if _share(values, _is_mailbox) >= 0.2:
            _map_mailbox(found, path, words)
        elif _share(values, _EMAIL.match) >= MOST:
            found.identifiers[path] = "email"
        elif _has(path, "email", "mail") and _share(values, lambda v: "@" in v) >= MOST / 2:
            found.identifiers[path] = "email"
            found.comments[path] = "CHECK: named like an e-mail, some values are not addresses"
        elif _share(values, _is_phone) >= MOST and (
            _has(path, "phone", "phones", "mobile", "tel", "cell") or not _id_like(path)
        ):
            found.identifiers[path] = "phone"
        elif _has(path, "phone", "mobile", "tel", "telephone", "cell"):
            found.identifiers[path] = "phone"
            found.comments[path] = "CHECK: named like a phone, values often not phone-like"
        elif column.many:
            if not paired:
                found.comments[path] = "several values per row: map with a kind if an identifier"
        elif _has(path, "country") or (
            _share(values, lambda v: region_code(v) is not None and not v.isdigit()) >= MOST
        ):
            found.attributes[path] = {"name": "country"}
            if found.phone_region_field is None:
                found.phone_region_field = path
        elif _share(values, _is_timestamp) >= MOST:
            timestamps.append(path)
        elif _share(values, _is_date) >= (
            MOST / 2 if _has(path, "date", "dob", "birth", "born", "birthday") else MOST
        ):
            _map_date(found, path, values)
        elif _has(path, "first", "given", "forename", "firstname"):
            found.attributes[path] = {"name": "first_name", "type": "name"}
        elif _has(path, "last", "surname", "family", "lastname"):
            found.attributes[path] = {"name": "last_name", "type": "name"}
        elif _has(path, "middle"):
            found.attributes[path] = {"name": "middle_name", "type": "name"}
        elif _has(path, "address", "addr") and _share(values, lambda v: "," in v) >= 0.5:
            found.attributes[path] = {"name": "address", "type": "address"}
        elif _address_line(path):
            address_lines.append(path)
        elif _has(path, "postcode", "zip", "postal", "pin", "plz"):
            found.attributes[path] = {"name": "postcode"}
        elif _share(values, lambda v: POSTCODE.fullmatch(v) is not None) >= MOST and not _has(
            path, "id", "no", "number"
        ):
            found.attributes[path] = {"name": "postcode"}
            found.comments[path] = "CHECK: values look like postcodes"
        elif _has(path, "city", "town"):
            found.attributes[path] = {"name": "city"}
        elif _has(path, "name"):
            spec: dict[str, JSONValue] = {"name": "full_name", "type": "full_name"}
            if _share(values, lambda v: len(v.split()) > 1 or "," in v) < 0.5:
                spec = {"name": words.replace(" ", "_"), "type": "name"}
                found.comments[path] = "CHECK: one word mostly; a first or last name?"
            found.attributes[path] = spec
        elif path.split(".")[-1] in declared:
            found.identifiers[path] = path.split(".")[-1]
        elif path == found.key:
            pass  # the key needs no more
        elif _has(path, "id"):
            kinds_hint = ", ".join(sorted(k for k in declared if k.endswith("_id")))
            found.comments[path] = (
                f"an id: map it as an identifier if other sources share it ({kinds_hint})"
            )
        if paired and not column.many and path in found.attributes:
            found.comments.setdefault(path, "the first element only (an attribute has one value)")
    _map_timestamps(found, timestamps, columns)
    _map_address_lines(found, address_lines)
    return found


def _identifier_like(column: Column) -> bool:
    """Whether a column's values are e-mails or phones (mapped as identifiers)."""
    values = column.values
    return _share(values, _EMAIL.match) >= MOST or (
        _share(values, _is_phone) >= MOST and _has(column.path, "phone", "phones", "mobile", "tel")
    )


def _map_mailbox(found: Suggestion, path: str, words: str) -> None:
    """``Ann Lee <ann@example.com>``: the address becomes an e-mail identifier and the
    display name a full name, both derived from the column."""
    stem = words.replace(" ", "_") or "mailbox"
    found.derived[f"{stem}_email"] = {"mailbox": path, "part": "address", "kind": "email"}
    taken = {str(spec.get("name")) for spec in found.attributes.values()} | set(found.derived)
    name = "full_name" if "full_name" not in taken else f"{stem}_name"
    found.derived[name] = {"mailbox": path, "part": "name", "type": "full_name"}
    found.comments[f"derived.{name}"] = "CHECK: the display name of 'Name <address>' values"


def _map_date(found: Suggestion, path: str, values: list[str]) -> None:
    _, mixed = _day_order(values)
    day_first: bool | None
    if mixed:
        formats, day_first = _mixed_formats(values)
        found.comments[path] = (
            "CHECK: some values put the day first, others the month; "
            "day_first follows the majority, and a date both ways reads is read that way"
        )
    else:
        formats, day_first = _date_formats(values)
    spec: dict[str, JSONValue] = {"name": _date_name(path), "type": "date"}
    if formats != ["%Y-%m-%d"]:
        spec["formats"] = list(formats)
    if day_first is not None:
        spec["day_first"] = day_first
    elif any(_NUMERIC_DATE.match(v) for v in values):
        found.comments[path] = "CHECK day_first: no value says whether the day comes first"
    found.attributes[path] = spec


_LAST_TRUE = ("updated", "modified", "changed", "last")


def _map_timestamps(found: Suggestion, paths: list[str], columns: Mapping[str, Column]) -> None:
    """The record's timestamp: a column named for the last change first, else the first
    one; the other timestamps stay datetime attributes."""
    if not paths:
        return
    chosen = next((p for p in paths if _has(p, *_LAST_TRUE)), paths[0])
    found.timestamp = chosen
    if not _has(chosen, *_LAST_TRUE, "timestamp", "at", "time"):
        found.comments[chosen] = "CHECK: is this when the record was last true?"
    values = columns[chosen].values
    found.timestamp_format, why = _timestamp_format(values)
    if why:
        found.comments["timestamp_format"] = why
    for path in paths:
        if path != chosen:
            spec: dict[str, JSONValue] = {
                "name": _words(path.replace("[0]", "")).replace(" ", "_"),
                "type": "datetime",
            }
            fmt, _ = _timestamp_format(columns[path].values)
            if fmt:
                spec["formats"] = [fmt]
            found.attributes[path] = spec


def _map_address_lines(found: Suggestion, paths: list[str]) -> None:
    """Street lines (``address_line1``, ``line2``): one is the address, several are
    joined into it."""
    if not paths or "address" in {s.get("name") for s in found.attributes.values()}:
        return
    if len(paths) == 1:
        found.attributes[paths[0]] = {"name": "address"}
        return
    found.derived["address"] = {"concat": list(paths), "sep": ", "}
    found.comments["derived.address"] = "CHECK: the street lines joined"


def _date_name(path: str) -> str:
    if _has(path, "dob", "birth", "born", "birthday"):
        return "birth_date"
    return _words(path.replace("[*]", "")).replace(" ", "_") or "date"


_EVENT_TYPE_NAMES = ("type", "event type", "event", "event name", "action", "name")
_ANONYMOUS = {"cookie_id": ("cookie", "anonymous", "anon"), "device_id": ("device",)}


@dataclass(slots=True)
class EventSuggestion:
    """A draft event mapping (docs/sources.md, "Event files")."""

    event_id: str | None
    type: str | None
    timestamp: str | None
    timestamp_format: str | None = None
    channel: str | None = None
    phone_region_field: str | None = None
    identifiers: dict[str, str] = default(default_factory=dict)
    comments: dict[str, str] = default(default_factory=dict)
    rows: int = 0

    def to_toml(self) -> str:
        lines = [
            f"# Drafted by `idgraph mapping suggest` from {self.rows:,} rows as an event "
            "mapping (an event id, a type, a timestamp):",
            "# edit it, then run `idgraph mapping check FILE --mapping THIS.toml` and "
            "`idgraph ingest-events FILE --mapping THIS.toml`.",
        ]
        for setting, value in (
            ("event_id", self.event_id),
            ("type", self.type),
            ("timestamp", self.timestamp),
        ):
            if value is None:
                lines.append(f'{setting} = "CHANGE_ME"  # no column looks like one')
            else:
                lines.append(f"{setting} = {_toml(value)}{_comment(self.comments.get(value))}")
        if self.timestamp_format:
            lines.append(f"timestamp_format = {_toml(self.timestamp_format)}")
        if self.channel:
            lines.append(f"channel = {_toml(self.channel)}")
        if self.phone_region_field:
            lines.append(
                f"phone_region = {{ field = {_toml(self.phone_region_field)}, "
                'default = "GB" }  # CHECK the default: numbers without +country code'
            )
        elif "phone" in self.identifiers.values():
            lines.append('phone_region = "GB"  # CHECK: the region of numbers without +code')
        lines += ["", "[identifiers]"]
        for column, kind in self.identifiers.items():
            lines.append(f"{_toml(column)} = {_toml(kind)}{_comment(self.comments.get(column))}")
        unsure = [c for c in self.comments if c not in self.identifiers and c not in self._named]
        if unsure:
            lines += ["", "# Not mapped (kept as the event's properties):"]
            lines += [f"#   {c}: {self.comments[c]}" for c in unsure]
        return "\n".join(lines) + "\n"

    @property
    def _named(self) -> set[str | None]:
        return {self.event_id, self.type, self.timestamp, self.channel}


def looks_like_events(rows: Iterable[Mapping[str, JSONValue]]) -> bool:
    """Whether a sample reads as an event log: an id named for events, a type column of
    few values and a timestamp (suggest then drafts an event mapping)."""
    draft = suggest_event_mapping(rows)
    return (
        draft.event_id is not None
        and "event" in _words(draft.event_id)
        and draft.type is not None
        and draft.timestamp is not None
    )


def suggest_event_mapping(
    rows: Iterable[Mapping[str, JSONValue]], kinds: Iterable[str] = ()
) -> EventSuggestion:
    """Infer a draft event mapping from ``rows``: the event id (a column unique in every
    row), the type (a column named for it with few distinct values), the timestamp, the
    channel, and identifiers: e-mails, phones, and ids named for a cookie or a device
    (the anonymous kinds), or for a declared kind."""
    columns, count = _columns(rows)
    declared = set(kinds)
    unique = [
        c
        for c in columns.values()
        if not c.many and c.rows == count and count and len(set(c.values)) == count
    ]
    unique.sort(key=lambda c: (not _has(c.path, "event"), not _id_like(c.path)))
    found = EventSuggestion(
        event_id=unique[0].path if unique else None, type=None, timestamp=None, rows=count
    )
    timestamps: list[str] = []
    for column in columns.values():
        path, values = column.path, column.values
        if not values or path == found.event_id:
            continue
        last = _words(path.split(".")[-1])
        if column.many and not _identifier_like(column):
            continue
        if _share(values, _EMAIL.match) >= MOST:
            found.identifiers[path] = "email"
        elif _has(path, "email", "mail") and _share(values, lambda v: "@" in v) >= MOST / 2:
            found.identifiers[path] = "email"
            found.comments[path] = "CHECK: named like an e-mail, some values are not addresses"
        elif _share(values, _is_phone) >= MOST and _has(path, "phone", "phones", "mobile", "tel"):
            found.identifiers[path] = "phone"
        elif (
            found.type is None
            and last in _EVENT_TYPE_NAMES
            and len(set(values)) <= max(20, count // 20)
        ):
            found.type = path
        elif _share(values, _is_timestamp) >= MOST:
            timestamps.append(path)
        elif _has(path, "channel"):
            found.channel = path
        elif _has(path, "country"):
            found.phone_region_field = found.phone_region_field or path
        elif _id_like(path) or _has(path, "cookie", "anonymous"):
            kind = next((k for k, words in _ANONYMOUS.items() if _has(path, *words)), None)
            if kind is None and path.split(".")[-1] in declared:
                kind = path.split(".")[-1]
            if kind is not None:
                found.identifiers[path] = kind
                found.comments[path] = f"CHECK: named like a {kind.replace('_', ' ')}"
            else:
                hint = ", ".join(sorted(k for k in declared if k.endswith("_id")))
                found.comments[path] = (
                    f"an id: map it as an identifier if other sources share it ({hint})"
                )
    if timestamps:
        found.timestamp = next((p for p in timestamps if _has(p, "timestamp", "time")), None)
        found.timestamp = found.timestamp or timestamps[0]
        found.timestamp_format, why = _timestamp_format(columns[found.timestamp].values)
        if why:
            found.comments[found.timestamp] = why
    return found
