"""Opaque pagination cursors: a kind and a position, JSON in URL-safe base64.

Every paged list of the API hands these out; a cursor of another list, or text this
module did not make, is refused with InvalidCursor.
"""

from __future__ import annotations

import base64
import binascii
import json

from identity.errors import InvalidCursor
from identity.model import JSONValue


def encode_cursor(kind: str, *position: JSONValue) -> str:
    """A cursor for ``position`` in a list of ``kind``."""
    doc = json.dumps([kind, *position], separators=(",", ":"))
    return base64.urlsafe_b64encode(doc.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str, size: int) -> list[JSONValue]:
    """The position ``encode_cursor(kind, ...)`` put in ``cursor`` (``size`` values).
    Raises InvalidCursor for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        doc = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor(cursor) from None
    if not isinstance(doc, list) or len(doc) != size + 1 or doc[0] != kind:
        raise InvalidCursor(cursor)
    return doc[1:]


def decode_int_cursor(cursor: str, kind: str) -> int:
    """The one non-negative integer (a seq, an id) in a cursor of ``kind``."""
    (value,) = decode_cursor(cursor, kind, 1)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidCursor(cursor)
    return value
