"""Export rows of segment members: which value each asked-for field is, and how an
export reads only those columns from the profile read model.

A field is ``profile_id``, an identifier kind (the profile's first linking value of it),
``traits.NAME``, ``consent.PURPOSE`` (granted or not) or a golden attribute (unknown
names are empty). :func:`export_value` answers it from a profile's facts;
:class:`ExportPlan` answers it from the few read-model columns it needs, and the two
give the same value (tests/identity/test_export_plan.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from operator import itemgetter
from typing import TYPE_CHECKING

from identity.journeys import TRAIT_NAMES
from identity.model import JSONValue, ProfileId, ViewColumn
from identity.rules import Rules

if TYPE_CHECKING:
    from identity.segment_definitions import Facts


def export_value(facts: Facts, name: str, rules: Rules) -> JSONValue:
    """One export column of a profile, from its facts."""
    profile = facts.profile
    if name in ("profile_id", "id"):
        return profile.id
    if name in rules.kinds:
        values = [i.value for i in profile.identifiers if i.kind == name and i.links]
        return values[0] if values else None
    if name.startswith("traits."):
        trait = name.removeprefix("traits.")
        if trait == "event_counts":
            return dict(facts.traits.event_counts)
        value = facts.traits.value(trait) if trait in TRAIT_NAMES else None
        return value.isoformat() if isinstance(value, datetime) else value
    if name.startswith("consent."):
        return facts.consented(name.removeprefix("consent."))
    return facts.attribute(name)


def computed_field(name: str) -> bool:
    """Whether an export field is one idgraph computes (the profile id, a trait, a
    consent flag) rather than a value from a source: a count, a sum, a timestamp, an id
    of its own or a yes or no, in which no e-mail address, phone number or name can sit,
    so a masked export shows it without looking into it."""
    return name in ("profile_id", "id") or name.startswith(("traits.", "consent."))


def csv_cell(value: JSONValue) -> str:
    """An export value as a CSV cell: empty for none, JSON for lists and objects."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


# A value computed from the columns read (by their index) and the export's "now".
_Value = Callable[[ProfileId, tuple[JSONValue, ...], datetime], JSONValue]

_STORED_TRAITS = {
    "first_seen": "first_seen",
    "last_seen": "last_seen",
    "last_order": "last_order",
    "events": "events",
    "orders": "orders",
    "frequency": "orders",
    "order_value": "order_value",
    "monetary": "order_value",
    "event_counts": "event_counts",
}
"""Traits stored as read-model columns, by the column that holds them."""


class ExportPlan:
    """The read-model columns an export's fields need, and how each field's value is made
    from them: once per export, then one call per row."""

    def __init__(self, fields: Sequence[str], rules: Rules) -> None:
        self.fields = tuple(fields)
        self.columns: list[ViewColumn] = []
        self._computed: list[_Value] = []
        # Each field's value is a column read (its index in `columns`) or a computed one
        # (its index past them): a row is then one C-level pick, not a call per field.
        at = [self._value(name, rules) for name in self.fields]
        read = len(self.columns)
        where = [i if isinstance(i, int) else read + self._computed.index(i) for i in at]
        self._pick = itemgetter(*where) if len(where) > 1 else lambda values: (values[where[0]],)

    def _column(self, part: str, name: str) -> int:
        column = ViewColumn(part, name)
        if column not in self.columns:
            self.columns.append(column)
        return self.columns.index(column)

    def _value(self, name: str, rules: Rules) -> int | _Value:
        """A field's column index, or how it is computed (remembered in `_computed`)."""
        value = self._read_or_computed(name, rules)
        if not isinstance(value, int) and value not in self._computed:
            self._computed.append(value)
        return value

    def _read_or_computed(self, name: str, rules: Rules) -> int | _Value:
        if name in ("profile_id", "id"):
            return _profile_id
        if name in rules.kinds:
            return self._column("linking", name)
        if name.startswith("traits."):
            return self._trait(name.removeprefix("traits."))
        if name.startswith("consent."):
            at = self._column("consent", name.removeprefix("consent."))
            return lambda pid, values, now: values[at] is True
        return self._column("golden", name)

    def _trait(self, trait: str) -> int | _Value:
        if trait in _STORED_TRAITS:
            return self._column("trait", _STORED_TRAITS[trait])
        if trait == "recency_days":
            last = self._column("trait", "last_order")

            def recency(pid: ProfileId, values: tuple[JSONValue, ...], now: datetime) -> JSONValue:
                stamp = values[last]
                return None if stamp is None else (now - datetime.fromisoformat(str(stamp))).days

            return recency
        if trait == "average_order_value":
            orders = self._column("trait", "orders")
            total = self._column("trait", "order_value")

            def average(pid: ProfileId, values: tuple[JSONValue, ...], now: datetime) -> JSONValue:
                count = values[orders]
                return values[total] / count if count else None

            return average
        return _empty  # an unknown trait is empty, as export_value says

    def row(
        self, profile_id: ProfileId, values: tuple[JSONValue, ...], now: datetime
    ) -> dict[str, JSONValue]:
        """One member's export row from the values of :attr:`columns`."""
        if self._computed:
            values += tuple(value(profile_id, values, now) for value in self._computed)
        return dict(zip(self.fields, self._pick(values), strict=True))


def _profile_id(pid: ProfileId, values: tuple[JSONValue, ...], now: datetime) -> JSONValue:
    return pid


def _empty(pid: ProfileId, values: tuple[JSONValue, ...], now: datetime) -> JSONValue:
    return None
