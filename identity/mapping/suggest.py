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
_NUMERIC_DATE = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-]\d{2,4}$")
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
    day_first: bool | None = None
    for value in values:
        match = _NUMERIC_DATE.match(value)
        if match:
            first, second = int(match.group(1)), int(match.group(2))
            if first > 12:
                day_first = True
            elif second > 12 and day_first is None:
                day_first = False
    if day_first is not None:  # drop the reading the values rule out
        used = [f for f in used if not _contrary(f, day_first)]
        partner = {"%d/%m/%Y": "%m/%d/%Y", "%m/%d/%Y": "%d/%m/%Y"}
        used = [f for f in used if partner.get(f) not in used or not _contrary(f, day_first)]
    return used, day_first


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
        return False
    return "T" in value or ":" in value


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
    phone_region_field: str | None = None
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
        mapped = {*self.identifiers, *self.attributes, self.key, self.timestamp}
        unsure = [c for c in self.comments if c not in mapped]
        if unsure:
            lines += ["", "# Not mapped (kept as attributes under their own names):"]
            lines += [f"#   {c}: {self.comments[c]}" for c in unsure]
        return "\n".join(lines) + "\n"


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
    for column in columns.values():
        path, values = column.path, column.values
        if not values:
            found.comments[path] = "never filled in the rows read"
            continue
        words = _words(path.replace("[*]", ""))
        if _share(values, _EMAIL.match) >= MOST:
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
            found.comments[path] = "several values per row: map with a kind if an identifier"
        elif _has(path, "country") or (
            _share(values, lambda v: region_code(v) is not None and not v.isdigit()) >= MOST
        ):
            found.attributes[path] = {"name": "country"}
            if found.phone_region_field is None:
                found.phone_region_field = path
        elif _share(values, _is_timestamp) >= MOST:
            if found.timestamp is None:
                found.timestamp = path
                if not _has(path, "updated", "modified", "changed", "timestamp", "at", "time"):
                    found.comments[path] = "CHECK: is this when the record was last true?"
            else:
                found.attributes[path] = {"name": words.replace(" ", "_"), "type": "datetime"}
        elif _share(values, _is_date) >= (
            MOST / 2 if _has(path, "date", "dob", "birth", "born", "birthday") else MOST
        ):
            formats, day_first = _date_formats(values)
            spec: dict[str, JSONValue] = {"name": _date_name(path), "type": "date"}
            if formats != ["%Y-%m-%d"]:
                spec["formats"] = list(formats)
            if day_first is not None:
                spec["day_first"] = day_first
            elif any(_NUMERIC_DATE.match(v) for v in values):
                found.comments[path] = "CHECK day_first: no value says whether the day comes first"
            found.attributes[path] = spec
        elif _has(path, "first", "given", "forename", "firstname"):
            found.attributes[path] = {"name": "first_name", "type": "name"}
        elif _has(path, "last", "surname", "family", "lastname"):
            found.attributes[path] = {"name": "last_name", "type": "name"}
        elif _has(path, "middle"):
            found.attributes[path] = {"name": "middle_name", "type": "name"}
        elif _has(path, "address", "addr") and _share(values, lambda v: "," in v) >= 0.5:
            found.attributes[path] = {"name": "address", "type": "address"}
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
            spec = {"name": "full_name", "type": "full_name"}
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
    return found


def _date_name(path: str) -> str:
    if _has(path, "dob", "birth", "born", "birthday"):
        return "birth_date"
    return _words(path.replace("[*]", "")).replace(" ", "_") or "date"
