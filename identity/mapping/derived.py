"""Derived fields: values a mapping computes from a row's fields before typing them, for
files that spread a value over several columns or pack several into one.

``[derived] name = { concat = ["first", "last"], sep = " " }``, ``{ split = "tags",
sep = ";", index = 0 }``, ``{ constant = "GB" }``, ``{ lower = "email" }`` and
``{ mailbox = "from", part = "name" }`` (the display name or the address of an e-mail
``From``-style value, ``Ann Lee <ann@example.com>``); each may add ``type`` (and date
options) like an attribute, or ``kind`` to become an identifier.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from identity.errors import ConfigError
from identity.model import JSONValue

Operation = Literal["concat", "split", "constant", "lower", "mailbox"]
OPERATIONS: tuple[str, ...] = ("concat", "split", "constant", "lower", "mailbox")
_OPTIONS = frozenset({*OPERATIONS, "sep", "index", "type", "formats", "format", "day_first"})
_OPTIONS = _OPTIONS | {"kind", "part"}
MAILBOX_PARTS = ("address", "name")

# `Name <address>`, `"Last, First" <address>` or `<address>`: the display name (quotes
# dropped) and what the angle brackets hold.
_NAME_ADDR = re.compile(r'^\s*(?:"([^"]*)"|([^<>"]*?))\s*<\s*([^<>\s]*)\s*>\s*$')


def mailbox_parts(text: str) -> tuple[str | None, str | None]:
    """The display name and the address of a mail header's mailbox as help desks and mail
    exports write it: ``Ann Lee <ann@example.com>``, ``"Lee, Ann" <ann@example.com>``, a
    bare ``ann@example.com``, or a name alone (a ticket taken by phone). The address is
    returned as written, for the e-mail normaliser to judge."""
    match = _NAME_ADDR.match(text)
    if match:
        name = (match.group(1) if match.group(1) is not None else match.group(2)).strip()
        return name or None, match.group(3) or None
    text = text.strip()
    if "@" in text and not any(c.isspace() for c in text):
        return None, text
    return text or None, None


@dataclass(frozen=True, slots=True)
class DerivedField:
    """One computed value: ``operation`` over ``fields`` (no fields for a constant)."""

    name: str
    operation: Operation
    fields: tuple[str, ...] = ()
    sep: str = " "
    index: int = 0
    constant: JSONValue = None
    kind: str | None = None
    """An identifier kind: the value becomes an identifier instead of an attribute."""
    part: str = "address"
    """What a ``mailbox`` operation keeps: the ``address`` or the display ``name``."""
    type: str = "string"
    """The attribute type the value is converted to (as under [attributes])."""
    formats: tuple[str, ...] = ()
    day_first: bool | None = None

    @property
    def place(self) -> str:
        """How problems with this value are named: ``derived.<name>``."""
        return f"derived.{self.name}"

    def compute(self, value_of: Callable[[str], JSONValue]) -> JSONValue:
        """The derived value from the row's fields (read by ``value_of``); None when the
        fields it reads are empty."""
        if self.operation == "constant":
            return self.constant
        texts = [_text(value_of(name)) for name in self.fields]
        if self.operation == "concat":
            present = [t for t in texts if t]
            return self.sep.join(present) if present else None
        text = texts[0]
        if not text:
            return None
        if self.operation == "lower":
            return text.casefold()
        if self.operation == "mailbox":
            name, address = mailbox_parts(text)
            return name if self.part == "name" else address
        parts = [p.strip() for p in text.split(self.sep)]
        try:
            return parts[self.index] or None
        except IndexError:
            return None

    def to_document(self) -> dict[str, JSONValue]:
        doc: dict[str, JSONValue]
        if self.operation == "constant":
            doc = {"constant": self.constant}
        elif self.operation == "concat":
            doc = {"concat": list(self.fields), "sep": self.sep}
        elif self.operation == "split":
            doc = {"split": self.fields[0], "sep": self.sep, "index": self.index}
        elif self.operation == "mailbox":
            doc = {"mailbox": self.fields[0], "part": self.part}
        else:
            doc = {"lower": self.fields[0]}
        if self.kind is not None:
            doc["kind"] = self.kind
        else:
            doc["type"] = self.type
        if self.formats:
            doc["formats"] = list(self.formats)
        if self.day_first is not None:
            doc["day_first"] = self.day_first
        return doc


def _text(value: JSONValue) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def derived_field(name: str, spec: object, path: str) -> tuple[DerivedField, dict[str, Any]]:
    """Validate ``[derived] name = {...}``; returns the field and the typing options left
    for the attribute checks (``type``, ``formats``, ``day_first``). Raises ConfigError
    naming ``derived.<name>`` and the option."""
    where = f"derived.{name}"
    if not isinstance(spec, Mapping):
        raise ConfigError(
            'use name = { concat = ["first", "last"], sep = " " } '
            "(or split, constant, lower, mailbox)",
            path=path,
            field=where,
        )
    extra = sorted(set(spec) - _OPTIONS)
    if extra:
        raise ConfigError(
            f"allowed: {', '.join(sorted(_OPTIONS))}", path=path, field=f"{where}.{extra[0]}"
        )
    operations = [op for op in OPERATIONS if op in spec]
    if len(operations) != 1:
        raise ConfigError(
            f"give exactly one of {', '.join(OPERATIONS)}, got {len(operations)}",
            path=path,
            field=where,
        )
    operation = operations[0]
    raw = spec[operation]
    here = f"{where}.{operation}"
    fields: tuple[str, ...] = ()
    constant: JSONValue = None
    if operation == "constant":
        if not isinstance(raw, str | int | float | bool):
            raise ConfigError("must be text, a number or true/false", path=path, field=here)
        constant = raw
    elif operation == "concat":
        if not isinstance(raw, list) or len(raw) < 2:
            raise ConfigError(
                'must list two or more fields: ["first", "last"]', path=path, field=here
            )
        fields = tuple(raw)
    else:
        fields = (raw,)
    for number, field_name in enumerate(fields):
        if not isinstance(field_name, str) or not field_name:
            place = f"{here}[{number}]" if operation == "concat" else here
            raise ConfigError(
                "must name a field (column, JSON key or path)", path=path, field=place
            )
    sep = spec.get("sep", " " if operation == "concat" else None)
    if operation in ("concat", "split"):
        if not isinstance(sep, str) or (operation == "split" and not sep):
            raise ConfigError("must be a non-empty string", path=path, field=f"{where}.sep")
    elif "sep" in spec:
        raise ConfigError(f"sep does not apply to {operation}", path=path, field=f"{where}.sep")
    index = spec.get("index", 0)
    if "index" in spec and operation != "split":
        raise ConfigError("index only applies to split", path=path, field=f"{where}.index")
    if isinstance(index, bool) or not isinstance(index, int):
        raise ConfigError(
            "must be an integer (0 the first part, -1 the last)", path=path, field=f"{where}.index"
        )
    part = spec.get("part", "address")
    if "part" in spec and operation != "mailbox":
        raise ConfigError("part only applies to mailbox", path=path, field=f"{where}.part")
    if part not in MAILBOX_PARTS:
        raise ConfigError(
            f"must be one of {', '.join(MAILBOX_PARTS)}", path=path, field=f"{where}.part"
        )
    kind = spec.get("kind")
    if kind is not None and (not isinstance(kind, str) or not kind):
        raise ConfigError("must be an identifier kind", path=path, field=f"{where}.kind")
    typing = {k: spec[k] for k in ("type", "formats", "format", "day_first") if k in spec}
    if kind is not None and typing:
        raise ConfigError(
            "an identifier takes no type", path=path, field=f"{where}.{sorted(typing)[0]}"
        )
    return (
        DerivedField(
            name=name,
            operation=cast(Operation, operation),
            fields=fields,
            sep=sep if isinstance(sep, str) else " ",
            index=index,
            constant=constant,
            kind=kind,
            part=part,
        ),
        typing,
    )
