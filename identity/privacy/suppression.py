"""The suppression list: salted hashes of what an erasure removed, so the next load of the
same files does not rebuild the person (Segment's "suppress with delete").

Three things are hashed, each with a tag so they cannot collide:

- an identifier (kind and normalised value): a later record or event carrying it is
  dropped whole, counted in the ingest report, never stored;
- a record's source and key: the same record sent again is dropped, even one that carries
  no identifier at all (a row of name and address only);
- an identifier of one record (source, key, kind, value), after a steward removed a wrong
  identifier from a profile: the record is kept and only that identifier is left out.

The hash is HMAC-SHA256 with a secret of the store (``privacy_salt`` in the store's
metadata, made at the first erasure), so the list cannot be checked against a list of
known e-mail addresses without the store itself. The value is never kept.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace

from identity.model import Event, IdentifierKey, RecordRef, SourceRecord
from identity.store.base import Store

SALT_KEY = "privacy_salt"
"""The store metadata document holding the secret of the hashes."""
RECORD = "record"
"""The ``kind`` of a suppressed record (source and key)."""
REMOVED = "removed:"
"""The prefix of the ``kind`` of an identifier removed from one record (``removed:email``)."""


def _digest(salt: bytes, *parts: str) -> str:
    message = "\x1f".join(parts).encode("utf-8")
    return hmac.new(salt, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Hasher:
    """Salted hashes of identifiers and records, by one store's secret."""

    salt: bytes

    def identifier(self, key: IdentifierKey) -> str:
        return _digest(self.salt, "identifier", key.kind, key.value)

    def record(self, ref: RecordRef | tuple[str, str]) -> str:
        return _digest(self.salt, "record", ref[0], ref[1])

    def record_identifier(self, ref: RecordRef | tuple[str, str], key: IdentifierKey) -> str:
        return _digest(self.salt, "record-identifier", ref[0], ref[1], key.kind, key.value)


def hasher(store: Store, create: bool = False) -> Hasher | None:
    """The store's hasher; with ``create`` its secret is made when there is none yet (call
    inside the unit of work that first suppresses), else None until then."""
    salt = store.meta.get(SALT_KEY)
    if isinstance(salt, str):
        return Hasher(bytes.fromhex(salt))
    if not create:
        return None
    made = secrets.token_hex(32)
    store.meta.set(SALT_KEY, made)
    return Hasher(bytes.fromhex(made))


@dataclass(slots=True)
class Screened:
    """What the suppression list let through of a batch, and what it held back."""

    records: list[SourceRecord] = field(default_factory=list)
    dropped: int = 0
    """Records (or events) dropped whole: they carried a suppressed identifier or are a
    suppressed record."""
    stripped: int = 0
    """Identifiers left out of records a steward removed them from."""


class SuppressionList:
    """Screens records and events against the store's suppression list: one lookup per
    batch (none at all before the first erasure)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _hasher(self) -> Hasher | None:
        return hasher(self.store)

    def screen_records(self, records: Sequence[SourceRecord]) -> Screened:
        """The records to store: those carrying a suppressed identifier, or themselves
        suppressed, are dropped; identifiers removed from a record are left out of it."""
        found = self._hasher()
        if found is None or not records:
            return Screened(list(records))
        hashes: dict[int, tuple[str, list[str], list[str]]] = {}
        for index, record in enumerate(records):
            ref = (record.source, record.key)
            keys = [i.key for i in record.identifiers]
            hashes[index] = (
                found.record(ref),
                [found.identifier(k) for k in keys],
                [found.record_identifier(ref, k) for k in keys],
            )
        listed = self.store.privacy.suppressed(
            {h for own, idents, removed in hashes.values() for h in (own, *idents, *removed)}
        )
        screened = Screened()
        for index, record in enumerate(records):
            own, idents, removed = hashes[index]
            if own in listed or any(h in listed for h in idents):
                screened.dropped += 1
                continue
            if any(h in listed for h in removed):
                kept = tuple(
                    i for i, h in zip(record.identifiers, removed, strict=True) if h not in listed
                )
                screened.stripped += len(record.identifiers) - len(kept)
                record = replace(record, identifiers=kept)
            screened.records.append(record)
        return screened

    def screen_events(self, events: Sequence[Event]) -> tuple[list[Event], int]:
        """The events to store, and how many were dropped for carrying a suppressed
        identifier."""
        found = self._hasher()
        if found is None or not events:
            return list(events), 0
        hashes = [[found.identifier(i.key) for i in e.identifiers] for e in events]
        listed = self.store.privacy.suppressed({h for hs in hashes for h in hs})
        kept = [e for e, hs in zip(events, hashes, strict=True) if not listed.intersection(hs)]
        return kept, len(events) - len(kept)

    def remove(self, hashes: Collection[str]) -> int:
        """Take entries off the list (a mistaken erasure); returns how many were on it."""
        return self.store.privacy.unsuppress(hashes)
