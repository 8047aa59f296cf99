"""What an input row may hold: how deep it nests, which characters, how long a string and
how large a number, checked before a row is mapped so no value the stores, the JSON
encoder or a client cannot take is ever kept; and the one form its text is kept in.

A row within the limits is made Unicode NFC (:meth:`InputLimits.admit`): every string in
it, field names and values at any depth, so ``e`` + U+0301 and ``é`` are one value, one
identifier and one field name whichever way a source spelled them.

The limits are part of the rules (``[limits]`` in the rules file, docs/sources.md), so
the CLI's file ingest and the HTTP API refuse the same rows. A refused row is a
:class:`RowProblem` naming the field, the size and the limit; the value itself goes only
into ``RowProblem.value``, which the CLI shows and the HTTP report leaves out.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from identity.config_tables import only_settings, positive_int
from identity.errors import ConfigError, RowProblem
from identity.model import JSONValue

MAX_NUMBER = 2**63 - 1
"""The largest magnitude a number may have, and the ceiling of every configured limit:
both stores and most clients keep integers in 64 bits."""
DEFAULT_MAX_DEPTH = 16
DEFAULT_MAX_STRING_LENGTH = 8192
DEFAULT_MAX_NAME_LENGTH = 256
EXCERPT = 40
"""Characters of a refused value kept for the CLI's message."""

# Control characters (Unicode category Cc: C0, DEL, C1) and lone surrogates, which no
# UTF-8 encoder accepts. Free text may hold tab, newline and carriage return.
_FORBIDDEN_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_FORBIDDEN_IN_NAMES = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class OversizedNumber:
    """A JSON integer with more digits than any limit allows, kept as its digit count only
    (converting it would cost time quadratic in its length, and Python refuses past 4,300
    digits)."""

    digits: int


@dataclass(frozen=True, slots=True)
class FieldLimits:
    """The string and number limits of one field (or of every field without its own)."""

    max_string_length: int = DEFAULT_MAX_STRING_LENGTH
    max_number: int = MAX_NUMBER


@dataclass(frozen=True, slots=True)
class InputLimits:
    """The limits every input row is held to; ``fields`` overrides the string and number
    limits of a field by its name (the nearest key above a value, at any depth)."""

    max_depth: int = DEFAULT_MAX_DEPTH
    """Levels a row may nest: a flat row is 1, an object or array inside it 2, ..."""
    max_name_length: int = DEFAULT_MAX_NAME_LENGTH
    """Characters of a field name (an object key)."""
    default: FieldLimits = field(default_factory=FieldLimits)
    fields: Mapping[str, FieldLimits] = field(default_factory=dict)

    def for_field(self, name: str) -> FieldLimits:
        return self.fields.get(name, self.default)

    def row_problem(
        self,
        row: Mapping[str, JSONValue],
        number: int,
        key_field: str | None = None,
        strict: Collection[str] = (),
    ) -> RowProblem | None:
        """The first value of ``row`` out of the limits, or None when it is within them.

        ``key_field`` names the row's key (reported with the problem when it is itself
        clean); in the top-level fields ``strict`` (ids, types) even tab and newline are
        refused.
        """
        key = self._key(row.get(key_field)) if key_field is not None else None
        for name, value in row.items():
            problem = self._name_problem(name, number, key)
            if problem is None:
                forbidden = _FORBIDDEN_IN_NAMES if name in strict else _FORBIDDEN_IN_TEXT
                problem = self._value_problem(value, name, name, 1, number, key, forbidden)
            if problem is not None:
                return problem
        return None

    def admit(
        self,
        row: Mapping[str, JSONValue],
        number: int,
        key_field: str | None = None,
        strict: Collection[str] = (),
    ) -> dict[str, JSONValue] | RowProblem:
        """``row`` as it is kept: checked (:meth:`row_problem`), then every string in it
        (names and values, at any depth) NFC-normalised; or the problem that refuses it.

        The one gate of the CLI's file ingest and the HTTP API, for records and events.
        Two field names of one object that become the same name refuse the row (which
        value was meant cannot be told); a string NFC makes longer than its limit too.
        """
        problem = self.row_problem(row, number, key_field, strict)
        if problem is not None:
            return problem
        if not _needs_nfc(row):  # most rows: one read, no copy
            return row if isinstance(row, dict) else dict(row)
        try:
            composed: dict[str, JSONValue] = _composed(dict(row), "")
        except _SameName as same:
            key = self._key(row.get(key_field)) if key_field is not None else None
            return RowProblem(
                number,
                same.path,
                "is given twice: two field names that differ only in how their accents are "
                "encoded (Unicode NFC), so which value is meant cannot be told",
                key,
            )
        # NFC may lengthen a string (rarely: U+0958 is two characters composed).
        return self.row_problem(composed, number, key_field, strict) or composed

    def number_problem(
        self, name: str, value: float | OversizedNumber, verb: str = "is"
    ) -> str | None:
        """Why a number is refused in the field ``name`` (``verb``, then its size and the
        limit, never the number), or None when it is within the limit."""
        limit = self.for_field(name).max_number
        if isinstance(value, OversizedNumber):
            return f"{verb} a number of {value.digits:,} digits; the limit is ±{limit:,}"
        if isinstance(value, float):
            if math.isnan(value):
                return f"{verb} NaN, which is not a number JSON can carry"
            if math.isinf(value):
                return f"{verb} Infinity (or beyond a 64-bit float), which JSON cannot carry"
            if abs(value) > limit:
                magnitude = math.floor(math.log10(abs(value)))
                return f"{verb} a number of magnitude 1e{magnitude}; the limit is ±{limit:,}"
            return None
        if abs(value) > limit:
            return f"{verb} a number of {_digits(value):,} digits; the limit is ±{limit:,}"
        return None

    def _key(self, value: JSONValue) -> str | None:
        if isinstance(value, str):
            clean = len(value) <= self.max_name_length and not _FORBIDDEN_IN_NAMES.search(value)
            return value.strip() if clean else None
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_NUMBER:
            return str(value)
        return None

    def _name_problem(self, name: object, number: int, key: str | None) -> RowProblem | None:
        text = str(name)
        if len(text) > self.max_name_length:
            return RowProblem(
                number,
                printable(text[:EXCERPT]) + "…",
                f"a field name of {len(text):,} characters; the limit is {self.max_name_length:,}",
                key,
                value=text[:EXCERPT],
            )
        bad = _FORBIDDEN_IN_NAMES.search(text)
        if bad is not None:
            return RowProblem(
                number,
                printable(text),
                f"the field name holds {describe_character(bad.group())}, which names may not",
                key,
                value=text,
            )
        return None

    def _value_problem(
        self,
        value: JSONValue,
        where: str,
        name: str,
        depth: int,
        number: int,
        key: str | None,
        forbidden: re.Pattern[str],
    ) -> RowProblem | None:
        if isinstance(value, str):
            return self._text_problem(value, where, name, number, key, forbidden)
        if isinstance(value, bool) or value is None:
            return None
        if isinstance(value, int | float | OversizedNumber):
            problem = self.number_problem(name, value)
            if problem is None:
                return None
            printable_number = isinstance(value, float) or (
                isinstance(value, int) and value.bit_length() <= _PRINTABLE_BITS
            )
            excerpt = str(value)[:EXCERPT] if printable_number else None
            return RowProblem(number, where, problem, key, value=excerpt)
        if isinstance(value, dict | list):
            if depth + 1 > self.max_depth:
                return RowProblem(
                    number,
                    where,
                    f"nests deeper than the limit of {self.max_depth} levels "
                    "(the row itself is level 1)",
                    key,
                )
            return self._inner_problem(value, where, name, depth + 1, number, key)
        return None

    def _inner_problem(
        self,
        value: dict[str, JSONValue] | list[JSONValue],
        where: str,
        name: str,
        depth: int,
        number: int,
        key: str | None,
    ) -> RowProblem | None:
        """The first problem inside an object or array at ``depth``; an item of an array
        is held to the limits of the field that holds the array."""
        if isinstance(value, list):
            items = [(f"{where}[{index}]", name, item) for index, item in enumerate(value)]
        else:
            items = []
            for inner, item in value.items():
                problem = self._name_problem(inner, number, key)
                if problem is not None:
                    path = f"{where}.{problem.field}"
                    return RowProblem(number, path, problem.problem, key, problem.value)
                items.append((f"{where}.{inner}", inner, item))
        for path, field_name, item in items:
            problem = self._value_problem(
                item, path, field_name, depth, number, key, _FORBIDDEN_IN_TEXT
            )
            if problem is not None:
                return problem
        return None

    def _text_problem(
        self,
        value: str,
        where: str,
        name: str,
        number: int,
        key: str | None,
        forbidden: re.Pattern[str],
    ) -> RowProblem | None:
        limit = self.for_field(name).max_string_length
        if len(value) > limit:
            return RowProblem(
                number,
                where,
                f"is {len(value):,} characters long; the limit is {limit:,}",
                key,
                value=value[:EXCERPT] + "…",
            )
        bad = forbidden.search(value)
        if bad is not None:
            start = max(bad.start() - EXCERPT // 2, 0)
            return RowProblem(
                number,
                where,
                f"holds {describe_character(bad.group())} at character {bad.start() + 1:,}",
                key,
                value=value[start : start + EXCERPT],
            )
        return None


def nfc(text: str) -> str:
    """``text`` in Unicode normalisation form C (composed: ``e`` + U+0301 is ``é``)."""
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def _needs_nfc(value: Any) -> bool:
    """Whether a string in ``value`` (a name or a value, at any depth) is not NFC."""
    if isinstance(value, str):
        # ASCII is always NFC, and str.isascii() reads a flag CPython keeps.
        return not (value.isascii() or unicodedata.is_normalized("NFC", value))
    if isinstance(value, list):
        return any(_needs_nfc(item) for item in value)
    if isinstance(value, dict):
        return any(_needs_nfc(name) or _needs_nfc(item) for name, item in value.items())
    return False


class _SameName(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def composed(value: Any) -> Any:
    """``value`` (a JSON or TOML document) with every string in it, names too, NFC; so a
    mapping names the columns of the rows it maps (which are NFC) however it was typed."""
    return _composed(value, "", strict=False)


def _composed(value: Any, where: str, strict: bool = True) -> Any:
    if isinstance(value, str):
        return nfc(value)
    if isinstance(value, list):
        return [_composed(item, f"{where}[{i}]", strict) for i, item in enumerate(value)]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for name, item in value.items():
            composed_name = nfc(name) if isinstance(name, str) else name
            path = f"{where}.{composed_name}" if where else str(composed_name)
            if strict and composed_name in out:
                raise _SameName(path)
            out[composed_name] = _composed(item, path, strict)
        return out
    return value


def text_problem(text: str, name: bool = False) -> str | None:
    """What makes ``text`` unusable, or None: a control character (tab, newline and
    carriage return are text, but not in a ``name``) or a lone surrogate, which no store
    or client can take."""
    bad = (_FORBIDDEN_IN_NAMES if name else _FORBIDDEN_IN_TEXT).search(text)
    return None if bad is None else f"holds {describe_character(bad.group())}"


_PRINTABLE_BITS = 10_000
"""Integers Python still prints (it refuses beyond 4,300 digits, about 14,000 bits)."""


def _digits(value: int) -> int:
    bits = abs(value).bit_length()
    if bits <= _PRINTABLE_BITS:
        return len(str(abs(value)))
    return int(bits * math.log10(2)) + 1


def describe_character(char: str) -> str:
    """``a NUL character (U+0000)``, ``a lone surrogate (U+D800)``: never the text around."""
    point = ord(char)
    if 0xD800 <= point <= 0xDFFF:
        return f"a lone surrogate (U+{point:04X}), which is not text"
    label = {0: "a NUL character", 0x7F: "a DEL character"}.get(point, "a control character")
    return f"{label} (U+{point:04X})"


def printable(text: str) -> str:
    """``text`` with its control characters and lone surrogates escaped, so a name that
    holds them can be reported (and encoded as UTF-8)."""
    return "".join(
        f"\\u{ord(c):04x}" if unicodedata.category(c) in ("Cc", "Cs") else c for c in text
    )


# -- the rules' [limits] section -------------------------------------------------------------

MAX_DEPTH_CEILING = 64
"""Deeper rows would come close to the recursion limits of the JSON encoders and of
GraphQL's serialisation; no identity feed nests this deep."""


def input_limits(doc: object, path: str) -> InputLimits:
    """The ``[limits]`` section of a rules file."""
    if not isinstance(doc, Mapping):
        raise ConfigError("must be a [limits] table", path=path, field="limits")
    only_settings(
        doc,
        {"max_depth", "max_name_length", "max_string_length", "max_number", "fields"},
        path,
        "limits.",
    )
    default = InputLimits()
    depth = positive_int(doc.get("max_depth", default.max_depth), path, "limits.max_depth")
    if depth > MAX_DEPTH_CEILING:
        raise ConfigError(
            f"must be at most {MAX_DEPTH_CEILING}, got {depth}", path=path, field="limits.max_depth"
        )
    names = positive_int(
        doc.get("max_name_length", default.max_name_length), path, "limits.max_name_length"
    )
    base = field_limits_of(doc, default.default, path, "limits")
    raw_fields = doc.get("fields", {})
    if not isinstance(raw_fields, Mapping):
        raise ConfigError(
            "must be a table of field = { max_string_length = ..., max_number = ... }",
            path=path,
            field="limits.fields",
        )
    fields: dict[str, FieldLimits] = {}
    for name, spec in raw_fields.items():
        where = f"limits.fields.{name}"
        if not isinstance(spec, Mapping) or not spec:
            raise ConfigError(
                "must be a table with max_string_length and/or max_number",
                path=path,
                field=where,
            )
        only_settings(spec, {"max_string_length", "max_number"}, path, where + ".")
        fields[name] = field_limits_of(spec, base, path, where)
    return InputLimits(max_depth=depth, max_name_length=names, default=base, fields=fields)


def field_limits_of(
    doc: Mapping[str, Any], default: FieldLimits, path: str, where: str
) -> FieldLimits:
    length = positive_int(
        doc.get("max_string_length", default.max_string_length), path, f"{where}.max_string_length"
    )
    number = positive_int(doc.get("max_number", default.max_number), path, f"{where}.max_number")
    if number > MAX_NUMBER:
        raise ConfigError(
            f"must be at most {MAX_NUMBER} (2**63 - 1): the stores keep 64-bit integers",
            path=path,
            field=f"{where}.max_number",
        )
    return FieldLimits(max_string_length=length, max_number=number)
