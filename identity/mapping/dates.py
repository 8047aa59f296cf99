"""Dates as real exports write them: several ``strptime`` formats per field, tried in
order, and a day-first hint that settles ``03/04/1990`` (3 April or 4 March).

With ``day_first`` set, the formats are tried day-before-month first (or month-before-day
first when it is false), keeping the written order otherwise; without formats, the hint
brings a list of common numeric and English-month forms (:data:`COMMON_FORMATS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from identity.model import JSONValue

COMMON_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%d/%m/%y",
    "%m/%d/%y",
    "%Y/%m/%d",
    "%Y%m%d",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d %Y",
    "%B %d %Y",
    "%b %d, %Y",
    "%B %d, %Y",
)
"""Tried when a field says ``day_first`` but names no formats."""


def _day_first(fmt: str) -> bool | None:
    """Whether ``fmt`` puts the day before the month (None when it has not both)."""
    day, month = fmt.find("%d"), max(fmt.find("%m"), fmt.find("%b"), fmt.find("%B"))
    year = max(fmt.find("%Y"), fmt.find("%y"))
    if day < 0 or month < 0 or 0 <= year < min(day, month):
        return None  # year first (ISO): never ambiguous
    return day < month


def ordered_formats(formats: Sequence[str], day_first: bool | None) -> tuple[str, ...]:
    """The formats to try, in order: as written, the hinted order moved ahead of the other
    (a stable sort, so the user's order otherwise holds)."""
    if day_first is None:
        return tuple(formats)
    chosen = formats or COMMON_FORMATS
    return tuple(sorted(chosen, key=lambda f: _day_first(f) is (not day_first)))


def parse_date(value: JSONValue, formats: Sequence[str]) -> date | None:
    """The date ``value`` holds by the first format that reads it; ISO 8601 when no
    format is given. None when none does."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not formats:
        try:
            return date.fromisoformat(text)
        except ValueError:
            return None
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def parse_datetime(text: str, formats: Sequence[str]) -> datetime | None:
    """Like :func:`parse_date` for a datetime (ISO 8601 when no format is given)."""
    if not formats:
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            return None
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def format_problem(fmt: str) -> str | None:
    """Why ``fmt`` cannot be a strptime format, or None."""
    if "%" not in fmt:
        return f"{fmt!r} has no % directive; write a strptime format such as '%d/%m/%Y'"
    try:
        datetime.strptime("", fmt)
    except ValueError as error:
        if "bad directive" in str(error) or "stray %" in str(error):
            return f"{fmt!r} is not a strptime format: {error}"
    return None
