"""The embedded store: one SQLite file (standard library), WAL journal, versioned schema.

The schema lives in ``identity/store/sql/NNNN_*.sql`` files applied in order, each in one
transaction, the version kept in ``PRAGMA user_version``. Every statement this adapter
runs is a named constant in the ``_SQL`` block below. Key lists of any length are passed
as one JSON array parameter and unpacked with ``json_each``, so a batch is one statement,
never one per key and never beyond SQLite's parameter limit.

One connection is shared by all threads of a process behind a re-entrant lock: the HTTP
service's worker threads read between (not during) ingest batches. That is the embedded
store's trade-off; the Neo4j store serves concurrent readers.
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
import threading
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from identity.errors import ProfilesNotImported, StoreError, StoreUnavailable
from identity.model import (
    AuditEntry,
    Event,
    EventQuery,
    EventWrite,
    Identifier,
    IdentifierFlag,
    IdentifierFlagReason,
    IdentifierKey,
    JSONValue,
    Link,
    LinkType,
    MatchRow,
    MembershipChange,
    MembershipKind,
    ProfileChangeKind,
    ProfileChangeRecord,
    ProfileChanges,
    ProfileId,
    ProfileRow,
    ProfileStatus,
    RecordId,
    RecordRef,
    RecordWrite,
    SegmentChange,
    SegmentRow,
    SourceRecord,
    StoreCounts,
    StoredAuditEntry,
    StoredProfile,
    StoredRecord,
    StoreHealth,
)
from identity.store import legacy
from identity.store.base import Store
from identity.store.changes import (
    RecordColumns,
    StoredColumns,
    change_log_rows,
    decode_stamp,
    diff_records,
    dumps,
    encode_stamp,
    event_document,
    event_from_document,
    fold_merges,
    identifiers_json,
    keyset_pages,
    load_identifiers,
    utc_key,
)

# -- SQL -------------------------------------------------------------------------------------
# Parameters named ``ids`` / ``keys`` / ``refs`` are JSON arrays unpacked by json_each.

_IDS = "(SELECT value FROM json_each(:ids))"

_GET_SOURCE = "SELECT mapping FROM sources WHERE name = ?"
_GET_SOURCES = (
    "SELECT name, mapping FROM sources WHERE name IN (SELECT value FROM json_each(:names))"
)
_PUT_SOURCE = (
    "INSERT INTO sources (name, mapping) VALUES (?, ?) "
    "ON CONFLICT (name) DO UPDATE SET mapping = excluded.mapping"
)
_LIST_SOURCES = "SELECT name FROM sources ORDER BY name"
_GET_META = "SELECT value FROM meta WHERE key = ?"
_META_KEYS = "SELECT key FROM meta ORDER BY key"
_PUT_META = (
    "INSERT INTO meta (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)

_RECORD_COLUMNS = (
    "r.id, r.source, r.key, r.identifiers, r.attributes, r.raw, r.timestamp, r.profile_id, "
    "r.ingested_at, r.updated_at"
)
_RECORDS_BY_REF = (
    f"SELECT {_RECORD_COLUMNS} FROM json_each(:refs) j "
    "JOIN records r ON r.source = j.value ->> 0 AND r.key = j.value ->> 1"
)
_RECORDS_BY_ID = f"SELECT {_RECORD_COLUMNS} FROM records r WHERE r.id IN {_IDS}"
_INSERT_RECORD = (
    "INSERT INTO records (source, key, identifiers, attributes, raw, timestamp, ingested_at, "
    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
)
_UPDATE_RECORD = (
    "UPDATE records SET identifiers = ?, attributes = ?, raw = ?, timestamp = ?, "
    "updated_at = ? WHERE id = ?"
)
_RECORD_IDS = (
    "SELECT r.source, r.key, r.id FROM json_each(:refs) j "
    "JOIN records r ON r.source = j.value ->> 0 AND r.key = j.value ->> 1"
)
_RECORDS_PAGE = f"SELECT {_RECORD_COLUMNS} FROM records r WHERE r.id > ? ORDER BY r.id LIMIT ?"
_RECORD_REFS = f"SELECT id, source, key FROM records WHERE id IN {_IDS}"
_IMPORT_RECORD = (
    "INSERT INTO records (source, key, identifiers, attributes, raw, timestamp, profile_id, "
    "ingested_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
)
_MISSING_PROFILES = (
    "SELECT j.value FROM json_each(:ids) j WHERE NOT EXISTS "
    "(SELECT 1 FROM profiles p WHERE p.id = j.value) ORDER BY j.value"
)
_RECORD_PROFILES_PAGE = (
    "SELECT source, key, profile_id FROM records WHERE (source, key) > (?, ?) "
    "ORDER BY source, key LIMIT ?"
)

_ADD_EDGE = (
    "INSERT INTO record_identifiers (kind, value, record_id, original) VALUES (?, ?, ?, ?) "
    "ON CONFLICT DO UPDATE SET original = excluded.original"
)
_REMOVE_EDGE = "DELETE FROM record_identifiers WHERE kind = ? AND value = ? AND record_id = ?"
_IDENTIFIERS_OF = (
    "SELECT r.id, r.identifiers FROM records r WHERE r.id IN (SELECT value FROM json_each(:ids))"
)
_IDENTIFIER_COUNTS = (
    "SELECT j.value ->> 0, j.value ->> 1, "
    "(SELECT count(*) FROM record_identifiers ri "
    " WHERE ri.kind = j.value ->> 0 AND ri.value = j.value ->> 1) "
    "FROM json_each(:keys) j"
)
_RECORDS_WITH = (
    "SELECT ri.kind, ri.value, ri.record_id FROM json_each(:keys) j "
    "JOIN record_identifiers ri ON ri.kind = j.value ->> 0 AND ri.value = j.value ->> 1 "
    "ORDER BY ri.kind, ri.value, ri.record_id"
)
_PROFILES_WITH = (
    "SELECT DISTINCT ri.kind, ri.value, r.profile_id FROM json_each(:keys) j "
    "JOIN record_identifiers ri ON ri.kind = j.value ->> 0 AND ri.value = j.value ->> 1 "
    "JOIN records r ON r.id = ri.record_id WHERE r.profile_id IS NOT NULL "
    "ORDER BY ri.kind, ri.value, r.profile_id"
)
_PUT_FLAG = (
    "INSERT INTO identifier_flags (kind, value, reason, record_count) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (kind, value) DO UPDATE SET reason = excluded.reason, "
    "record_count = excluded.record_count"
)
_CLEAR_FLAG = "DELETE FROM identifier_flags WHERE kind = ? AND value = ?"
_FLAGS = (
    "SELECT kind, value, reason, record_count FROM identifier_flags "
    "ORDER BY record_count DESC, kind, value LIMIT ?"
)
_FLAGS_PAGE = (
    "SELECT kind, value, reason, record_count FROM identifier_flags "
    "WHERE (kind, value) > (?, ?) ORDER BY kind, value LIMIT ?"
)

_LINK_COLUMNS = "a, b, type, matcher, weight, evidence"
_FOUND_LINK_COLUMNS = "a, b, type, matcher, weight, CASE WHEN :evidence THEN evidence END"
_LINKS_OF = (
    f"SELECT {_FOUND_LINK_COLUMNS} FROM links WHERE a IN {_IDS} "
    f"UNION SELECT {_FOUND_LINK_COLUMNS} FROM links WHERE b IN {_IDS} "
    "ORDER BY a, b, type, matcher"
)
_PUT_LINK = (
    "INSERT INTO links (a, b, type, matcher, weight, evidence) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (a, b, type, matcher) DO UPDATE SET weight = excluded.weight, "
    "evidence = excluded.evidence"
)
_DELETE_MATCHER_LINKS = (
    f"DELETE FROM links WHERE matcher = :matcher AND (a IN {_IDS} OR b IN {_IDS})"
)
_DELETE_LINK = "DELETE FROM links WHERE a = ? AND b = ? AND type = ?"
_LINKS_PAGE = (
    f"SELECT {_LINK_COLUMNS} FROM links WHERE (a, b, type, matcher) > (?, ?, ?, ?) "
    "ORDER BY a, b, type, matcher LIMIT ?"
)

_MATCH_ROW_COLUMNS = "m.record_id, m.fields, m.keys"
_PUT_MATCH_ROW = (
    "INSERT INTO match_rows (record_id, fields, keys) VALUES (?, ?, ?) "
    "ON CONFLICT (record_id) DO UPDATE SET fields = excluded.fields, keys = excluded.keys"
)
_DELETE_BLOCKING_KEYS = f"DELETE FROM blocking_keys WHERE record_id IN {_IDS}"
_ADD_BLOCKING_KEY = "INSERT OR IGNORE INTO blocking_keys (key, record_id) VALUES (?, ?)"
_MATCH_ROWS_WITH_KEYS = (
    f"SELECT {_MATCH_ROW_COLUMNS} FROM match_rows m WHERE m.record_id IN ("
    "SELECT b.record_id FROM json_each(:keys) j JOIN blocking_keys b ON b.key = j.value"
    ") ORDER BY m.record_id"
)
_MATCH_ROWS_OF = (
    f"SELECT {_MATCH_ROW_COLUMNS} FROM match_rows m WHERE m.record_id IN {_IDS} "
    "ORDER BY m.record_id"
)
_BLOCKING_KEY_COUNTS = (
    "SELECT j.value, (SELECT count(*) FROM blocking_keys b WHERE b.key = j.value) "
    "FROM json_each(:keys) j"
)
_MATCH_ROWS_PAGE = (
    f"SELECT {_MATCH_ROW_COLUMNS} FROM match_rows m WHERE m.record_id > ? "
    "ORDER BY m.record_id LIMIT ?"
)
_CLEAR_MATCH_ROWS = ("DELETE FROM blocking_keys", "DELETE FROM match_rows")

_PROFILE_IDS_OF = (
    f"SELECT id, profile_id FROM records WHERE id IN {_IDS} AND profile_id IS NOT NULL"
)
_RECORDS_OF_PROFILES = (
    "SELECT profile_id, id FROM records "
    "WHERE profile_id IN (SELECT value FROM json_each(:ids)) ORDER BY profile_id, id"
)
_GET_PROFILES = (
    "SELECT id, created_at, updated_at, merged_from, split_from FROM profiles "
    f"WHERE id IN {_IDS} AND status = 'live'"
)
_PROFILE_STATUS = f"SELECT id, status, redirect_to FROM profiles WHERE id IN {_IDS}"
_CREATE_PROFILE = (
    "INSERT INTO profiles (id, status, created_at, updated_at, split_from) "
    "VALUES (?, 'live', ?, ?, ?)"
)
_ASSIGN = "UPDATE records SET profile_id = ? WHERE id = ?"
_MERGED_FROM = "SELECT merged_from FROM profiles WHERE id = ?"
_RETIRE = (
    "UPDATE profiles SET status = 'merged', redirect_to = :survivor, merged_from = '[]', "
    "updated_at = :now WHERE id = :retired"
)
_FOLLOW = "UPDATE profiles SET redirect_to = :survivor WHERE redirect_to = :retired"
_SET_MERGED_FROM = "UPDATE profiles SET merged_from = ?, updated_at = ? WHERE id = ?"
_DELETE_PROFILE = (
    "UPDATE profiles SET status = 'deleted', redirect_to = NULL, updated_at = ? WHERE id = ?"
)
_TOUCH = "UPDATE profiles SET updated_at = ? WHERE id = ? AND status = 'live'"
_PROFILE_PAGE = "SELECT id FROM profiles WHERE status = 'live' AND id > ? ORDER BY id LIMIT ?"
_PROFILES_PAGE = (
    "SELECT id, status, redirect_to, merged_from, created_at, updated_at, split_from "
    "FROM profiles "
    "WHERE id > ? ORDER BY id LIMIT ?"
)
_IMPORT_PROFILE = (
    "INSERT INTO profiles (id, status, redirect_to, merged_from, created_at, updated_at, "
    "split_from) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
    "status = excluded.status, split_from = excluded.split_from, "
    "redirect_to = excluded.redirect_to, merged_from = excluded.merged_from, "
    "created_at = excluded.created_at, updated_at = excluded.updated_at"
)

# Events. A profile's identifiers: those of its records that are not flagged as junk.
_NOT_FLAGGED = (
    "NOT EXISTS (SELECT 1 FROM identifier_flags f WHERE f.kind = ri.kind AND f.value = ri.value)"
)
_EVENTS_BY_ID = (
    "SELECT event_id, body FROM events WHERE event_id IN (SELECT value FROM json_each(:ids))"
)
_PUT_EVENT = (
    "INSERT INTO events (event_id, type, channel, ts, body, received_at) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (event_id) DO UPDATE SET type = excluded.type, channel = excluded.channel, "
    "ts = excluded.ts, body = excluded.body, received_at = excluded.received_at"
)
_DELETE_EVENT_EDGES = (
    "DELETE FROM event_identifiers WHERE event_id IN (SELECT value FROM json_each(:ids))"
)
_ADD_EVENT_EDGE = "INSERT OR IGNORE INTO event_identifiers (kind, value, event_id) VALUES (?, ?, ?)"
_JOURNEY = (
    "WITH held AS (SELECT DISTINCT ri.kind, ri.value FROM records r "
    "JOIN record_identifiers ri ON ri.record_id = r.id "
    f"WHERE r.profile_id = :profile AND {_NOT_FLAGGED}), "
    "found AS (SELECT DISTINCT ei.event_id FROM held "
    "JOIN event_identifiers ei ON ei.kind = held.kind AND ei.value = held.value) "
    "SELECT e.event_id, e.body FROM found JOIN events e ON e.event_id = found.event_id "
    "WHERE (:types IS NULL OR e.type IN (SELECT value FROM json_each(:types))) "
    "AND (:channels IS NULL OR e.channel IN (SELECT value FROM json_each(:channels))) "
    "AND (:since IS NULL OR e.ts >= :since) AND (:until IS NULL OR e.ts < :until) "
    "AND (:after_ts IS NULL OR (e.ts, e.event_id) {before} (:after_ts, :after_id)) "
    "ORDER BY e.ts {order}, e.event_id {order} LIMIT :limit"
)
_JOURNEY_NEWEST_FIRST = _JOURNEY.format(before="<", order="DESC")
_JOURNEY_OLDEST_FIRST = _JOURNEY.format(before=">", order="ASC")
# Distinct identifiers per profile first, then distinct events: an e-mail held by four of
# a profile's records would otherwise read (and de-duplicate) each of its events four times.
_EVENTS_OF_PROFILES = (
    "WITH held AS (SELECT DISTINCT r.profile_id, ri.kind, ri.value FROM records r "
    "JOIN record_identifiers ri ON ri.record_id = r.id "
    f"WHERE r.profile_id IN (SELECT value FROM json_each(:ids)) AND {_NOT_FLAGGED}), "
    "found AS (SELECT DISTINCT held.profile_id, ei.event_id FROM held "
    "JOIN event_identifiers ei ON ei.kind = held.kind AND ei.value = held.value) "
    "SELECT found.profile_id, e.ts, e.event_id, e.body FROM found "
    "JOIN events e ON e.event_id = found.event_id "
    "WHERE :since IS NULL OR e.ts >= :since "
    "ORDER BY found.profile_id, e.ts, e.event_id"
)
_PROFILES_OF_EVENTS = (
    "SELECT DISTINCT ei.event_id, r.profile_id FROM json_each(:ids) j "
    "JOIN event_identifiers ei ON ei.event_id = j.value "
    "JOIN record_identifiers ri ON ri.kind = ei.kind AND ri.value = ei.value "
    "JOIN records r ON r.id = ri.record_id "
    f"WHERE r.profile_id IS NOT NULL AND {_NOT_FLAGGED} ORDER BY ei.event_id, r.profile_id"
)
_EVENT_COUNT = "SELECT count(*) FROM events"
_EVENTS_PAGE = "SELECT event_id, body FROM events WHERE event_id > ? ORDER BY event_id LIMIT ?"

# Segments.
_PUT_SEGMENT = (
    "INSERT INTO segments (name, definition, created_at, updated_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, "
    "updated_at = excluded.updated_at"
)
_ALL_SEGMENTS = "SELECT name, definition, created_at, updated_at FROM segments ORDER BY name"
_SEGMENTS_NAMED = (
    "SELECT name, definition, created_at, updated_at FROM segments "
    "WHERE name IN (SELECT value FROM json_each(:names)) ORDER BY name"
)
_DELETE_SEGMENT = (
    "DELETE FROM segment_changes WHERE segment = :name",
    "DELETE FROM segment_members WHERE segment = :name",
    "DELETE FROM segments WHERE name = :name",
)
_SEGMENT_MEMBERS = (
    "SELECT profile_id FROM segment_members WHERE segment = ? AND profile_id > ? "
    "ORDER BY profile_id LIMIT ?"
)
_SEGMENT_SIZES = (
    "SELECT s.name, (SELECT count(*) FROM segment_members m WHERE m.segment = s.name) "
    "FROM segments s WHERE :names IS NULL OR s.name IN (SELECT value FROM json_each(:names))"
)
_MEMBERSHIPS_OF = (
    "SELECT profile_id, segment FROM segment_members "
    "WHERE profile_id IN (SELECT value FROM json_each(:ids)) ORDER BY profile_id, segment"
)
_ADD_MEMBER = "INSERT OR IGNORE INTO segment_members (segment, profile_id) VALUES (?, ?)"
_REMOVE_MEMBER = "DELETE FROM segment_members WHERE segment = ? AND profile_id = ?"
_LOG_CHANGE = (
    "INSERT INTO segment_changes (segment, profile_id, kind, at, merged_into) "
    "VALUES (?, ?, ?, ?, ?)"
)
_IMPORT_CHANGE = (
    "INSERT INTO segment_changes (seq, segment, profile_id, kind, at, merged_into) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_CHANGE_COLUMNS = "seq, segment, profile_id, kind, at, merged_into"
_SEGMENT_CHANGES = (
    f"SELECT {_CHANGE_COLUMNS} FROM segment_changes WHERE segment = ? AND seq > ? "
    "ORDER BY seq LIMIT ?"
)
_CHANGES_PAGE = f"SELECT {_CHANGE_COLUMNS} FROM segment_changes WHERE seq > ? ORDER BY seq LIMIT ?"
_LAST_CHANGE_SEQ = "SELECT coalesce(max(seq), 0) FROM segment_changes"
_MISSING_SEGMENTS = (
    "SELECT j.value FROM json_each(:names) j WHERE NOT EXISTS "
    "(SELECT 1 FROM segments s WHERE s.name = j.value) ORDER BY j.value"
)

# Stewardship: the profile change log, the review queue, the audit log.
_LOG_PROFILE_CHANGE = (
    "INSERT INTO profile_changes (kind, profile_id, at, related) VALUES (?, ?, ?, ?)"
)
_PROFILE_CHANGE_LOG = (
    "SELECT seq, kind, profile_id, at, related FROM profile_changes WHERE seq > ? "
    "ORDER BY seq LIMIT ?"
)
_LINKS_OF_TYPE = (
    f"SELECT {_LINK_COLUMNS} FROM links WHERE type = ? AND (a, b) > (?, ?) "
    "ORDER BY a, b, matcher LIMIT ?"
)
_APPEND_AUDIT = (
    "INSERT INTO audit_log (at, actor, action, target, reason, before, after, undoes) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
)
_AUDIT_COLUMNS = (
    "a.id, a.at, a.actor, a.action, a.target, a.reason, a.before, a.after, a.undoes, "
    "(SELECT u.id FROM audit_log u WHERE u.undoes = a.id)"
)
_AUDIT_ENTRIES = (
    f"SELECT {_AUDIT_COLUMNS} FROM audit_log a WHERE a.id < :before "
    "AND (:actor IS NULL OR a.actor = :actor) AND (:action IS NULL OR a.action = :action) "
    "ORDER BY a.id DESC LIMIT :limit"
)
_AUDIT_BY_ID = f"SELECT {_AUDIT_COLUMNS} FROM audit_log a WHERE a.id IN {_IDS}"
_IMPORT_AUDIT = (
    "INSERT INTO audit_log (id, at, actor, action, target, reason, before, after, undoes) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_IMPORT_PROFILE_CHANGE = (
    "INSERT INTO profile_changes (seq, kind, profile_id, at, related) VALUES (?, ?, ?, ?, ?)"
)

_COUNTS = (
    "SELECT (SELECT count(*) FROM records), "
    "(SELECT count(*) FROM (SELECT DISTINCT kind, value FROM record_identifiers)), "
    "(SELECT count(*) FROM profiles WHERE status = 'live'), "
    "(SELECT count(*) FROM links)"
)

# Emptying the store: every table of the schema (whatever later migrations add), with
# foreign keys checked at commit, when nothing is left to point at. sqlite_sequence is
# kept, so record ids are not reused.
_TABLES = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
_DEFER_FOREIGN_KEYS = "PRAGMA defer_foreign_keys = ON"
_DELETE_ALL = 'DELETE FROM "{table}"'

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def _key_list(keys: Collection[IdentifierKey]) -> str:
    return dumps([[k.kind, k.value] for k in keys])


def _segment_change(row: tuple[Any, ...]) -> SegmentChange:
    seq, segment, profile_id, kind, at, merged_into = row
    return SegmentChange(
        seq, segment, profile_id, MembershipKind(kind), datetime.fromisoformat(at), merged_into
    )


def migrations() -> list[tuple[int, str, str]]:
    """The packaged schema migrations as (version, file name, SQL), in version order."""
    found = []
    for entry in resources.files("identity.store").joinpath("sql").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    for expected, (version, name, _) in enumerate(found, start=1):
        if version != expected:
            raise StoreError(f"schema migrations are not numbered 1..n: {name}")
    return found


class _CountingConnection:
    """The shared connection as a read block sees it: each statement is counted."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        self._store._statement_counts[self._store._operation] += 1
        return self._store._conn.execute(sql, params)


class SQLiteStore(Store):
    """The identity graph in one SQLite file (or ``":memory:"`` for tests)."""

    backend = "sqlite"

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        legacy.install(self)
        if self.path != ":memory:":
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreUnavailable(
                    f"cannot create the folder for the store {self.path}: {error.strerror}"
                ) from error
        try:
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            self._conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.Error as error:
            raise StoreUnavailable(f"cannot open the store {self.path}: {error}") from error
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        self._lock = threading.RLock()
        self._depth = 0
        self._read_only = False  # inside a reading block (then _depth > 0 too)
        # Statements per operation (the metric); both guarded by self._lock, which every
        # statement holds.
        self._statement_counts: Counter[str] = Counter()
        self._operation = "other"
        self._migrate()

    # -- plumbing --------------------------------------------------------------------------

    def _migrate(self) -> None:
        known = migrations()
        with self._lock:
            current = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if current > len(known):
                raise StoreError(
                    f"the store {self.path} has schema version {current}, newer than this "
                    f"idgraph knows ({len(known)}): upgrade idgraph"
                )
            for version, name, sql in known[current:]:
                try:
                    self._conn.executescript(
                        f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;"
                    )
                except sqlite3.Error as error:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise StoreError(f"schema migration {name} failed: {error}") from error

    @property
    def schema_version(self) -> int:
        with self._lock:
            version: int = self._conn.execute("PRAGMA user_version").fetchone()[0]
            return version

    def _write_block(self) -> AbstractContextManager[None]:
        return self._transaction("unit_of_work")

    def _read_block(self) -> AbstractContextManager[None]:
        return self._read_transaction()

    @contextmanager
    def _read_transaction(self) -> Iterator[None]:
        # The lock is held for the whole block, as it is for every statement anyway: one
        # connection serves all threads of the process.
        with self._lock:
            if self._depth > 0:  # inside a unit of work or another reading block: join it
                yield
                return
            self._control("BEGIN")
            self._depth += 1
            self._read_only = True
            try:
                yield
            finally:
                self._depth -= 1
                self._read_only = False
                if self._conn.in_transaction:
                    self._conn.execute("COMMIT")

    @contextmanager
    def _operating(self, operation: str) -> Iterator[None]:
        """Counts the statements of the block under ``operation``."""
        with self._lock:
            outer = self._operation
            self._operation = operation
            try:
                yield
            finally:
                self._operation = outer

    # The operation of a block defaults to the name of the store method whose ``with``
    # entered it (two frames up, past contextmanager's __enter__), so each method is
    # labelled as the Neo4j store labels it without repeating its own name.

    @contextmanager
    def _transaction(self, operation: str | None = None) -> Iterator[None]:
        with self._operating(operation or sys._getframe(2).f_code.co_name):
            if self._read_only:
                raise StoreError(f"{self._operation}: cannot write inside a reading block")
            outer = self._depth == 0
            if outer:
                self._control("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer and self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                try:
                    self._control("COMMIT")
                except StoreError:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise

    @contextmanager
    def _reading(self, operation: str | None = None) -> Iterator[_CountingConnection]:
        with self._operating(operation or sys._getframe(2).f_code.co_name):
            try:
                yield _CountingConnection(self)
            except sqlite3.Error as error:
                raise StoreError(f"store read failed: {error}") from error

    def _control(self, sql: str) -> None:
        # Transaction control is not a statement of any operation: not counted.
        try:
            self._conn.execute(sql)
        except sqlite3.Error as error:
            raise StoreError(f"store write failed: {error}") from error

    def _execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        self._statement_counts[self._operation] += 1
        try:
            return self._conn.execute(sql, params)
        except sqlite3.Error as error:
            raise StoreError(f"store write failed: {error}") from error

    def _executemany(self, sql: str, rows: Sequence[Any]) -> None:
        if not rows:
            return
        # One statement however many rows: SQLite runs the batch in process.
        self._statement_counts[self._operation] += 1
        try:
            self._conn.executemany(sql, rows)
        except sqlite3.Error as error:
            raise StoreError(f"store write failed: {error}") from error

    def statements_per_operation(self) -> dict[str, int]:
        with self._lock:
            return dict(self._statement_counts)

    def _pages(
        self,
        operation: str,
        sql: str,
        start: tuple[Any, ...],
        batch_size: int,
        *,
        until_empty: bool = False,
    ) -> Iterator[Sequence[tuple[Any, ...]]]:
        """Keyset pages of ``sql`` (``... WHERE key > (?, ...) ORDER BY key LIMIT ?``), whose
        rows start with their key, as many columns as ``start``; counted under
        ``operation``, the store method paging."""
        size = len(start)

        def fetch(after: tuple[Any, ...]) -> list[tuple[Any, ...]]:
            with self._reading(operation) as conn:
                return conn.execute(sql, (*after, batch_size)).fetchall()

        return keyset_pages(
            fetch, lambda row: tuple(row[:size]), start, batch_size, until_empty=until_empty
        )

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def health(self) -> StoreHealth:
        try:
            with self._lock:
                self._conn.execute("SELECT count(*) FROM sources").fetchone()
        except sqlite3.Error as error:
            return StoreHealth(False, self.backend, f"{self.path}: {error}")
        return StoreHealth(True, self.backend, f"{self.path} (schema v{self.schema_version})")

    def counts(self) -> StoreCounts:
        with self._reading() as conn:
            records, identifiers, profiles, links = conn.execute(_COUNTS).fetchone()
        return StoreCounts(records, identifiers, profiles, links)

    def delete_everything(self) -> None:
        with self._transaction():
            tables = [name for (name,) in self._execute(_TABLES).fetchall()]
            self._execute(_DEFER_FOREIGN_KEYS)
            for table in tables:
                self._execute(_DELETE_ALL.format(table=table))

    # -- source mappings and metadata ------------------------------------------------------

    def put_source(self, name: str, mapping: dict[str, JSONValue]) -> None:
        with self._transaction():
            self._execute(_PUT_SOURCE, (name, dumps(mapping)))

    def get_source(self, name: str) -> dict[str, JSONValue] | None:
        with self._reading() as conn:
            row = conn.execute(_GET_SOURCE, (name,)).fetchone()
        return json.loads(row[0]) if row else None

    def get_sources(self, names: Collection[str]) -> dict[str, dict[str, JSONValue]]:
        if not names:
            return {}
        with self._reading() as conn:
            rows = conn.execute(_GET_SOURCES, {"names": json.dumps(sorted(set(names)))})
            return {name: json.loads(mapping) for name, mapping in rows}

    def list_sources(self) -> list[str]:
        with self._reading() as conn:
            return [name for (name,) in conn.execute(_LIST_SOURCES)]

    def get_meta(self, key: str) -> JSONValue | None:
        with self._reading() as conn:
            row = conn.execute(_GET_META, (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_meta(self, key: str, value: JSONValue) -> None:
        with self._transaction():
            self._execute(_PUT_META, (key, dumps(value)))

    def meta_keys(self) -> list[str]:
        with self._reading() as conn:
            return [key for (key,) in conn.execute(_META_KEYS)]

    # -- records and identifiers -----------------------------------------------------------

    @staticmethod
    def _record(row: tuple[Any, ...]) -> StoredRecord:
        rid, source, key, identifiers, attributes, raw, stamp, profile, ingested, updated = row
        return StoredRecord(
            record_id=rid,
            record=SourceRecord(
                source=source,
                key=key,
                identifiers=load_identifiers(identifiers),
                attributes=json.loads(attributes),
                timestamp=decode_stamp(stamp),
                raw=json.loads(raw),
            ),
            profile_id=profile,
            ingested_at=datetime.fromisoformat(ingested),
            updated_at=datetime.fromisoformat(updated),
        )

    def upsert_records(self, records: Sequence[SourceRecord], now: datetime) -> list[RecordWrite]:
        refs = dumps(sorted({(r.source, r.key) for r in records}))
        stamp = now.isoformat()
        with self._transaction():
            existing = {
                RecordRef(row[1], row[2]): StoredColumns(row[0], RecordColumns(*row[3:7]))
                for row in self._execute(_RECORDS_BY_REF, {"refs": refs})
            }
            diff = diff_records(existing, records)
            # Autoincrement ids, in the order the new records first appear.
            new_ids: dict[RecordRef, RecordId] = {
                ref: self._execute(
                    _INSERT_RECORD,
                    (*ref, c.identifiers, c.attributes, c.raw, c.timestamp, stamp, stamp),
                ).fetchone()[0]
                for ref, c in diff.created.items()
            }
            ids = diff.ids(new_ids)
            self._executemany(
                _UPDATE_RECORD,
                [
                    (c.identifiers, c.attributes, c.raw, c.timestamp, stamp, ids[ref])
                    for ref, c in diff.updated.items()
                ],
            )
            self._executemany(
                _REMOVE_EDGE, [(k.kind, k.value, ids[ref]) for ref, k in diff.removed_edges]
            )
            self._executemany(
                _ADD_EDGE,
                [(i.kind, i.value, ids[ref], i.original) for ref, i in diff.added_edges],
            )
        return diff.writes(new_ids)

    def get_records(self, record_ids: Collection[RecordId]) -> dict[RecordId, StoredRecord]:
        with self._reading() as conn:
            rows = conn.execute(_RECORDS_BY_ID, {"ids": dumps(list(record_ids))}).fetchall()
        return {row[0]: self._record(row) for row in rows}

    def record_ids(self, refs: Collection[RecordRef]) -> dict[RecordRef, RecordId]:
        with self._reading() as conn:
            rows = conn.execute(_RECORD_IDS, {"refs": dumps([list(r) for r in refs])})
            return {RecordRef(source, key): rid for source, key, rid in rows}

    def iter_record_profiles(
        self, batch_size: int = 10_000
    ) -> Iterator[tuple[RecordRef, ProfileId | None]]:
        for rows in self._pages(
            "iter_record_profiles", _RECORD_PROFILES_PAGE, ("", ""), batch_size
        ):
            for source, key, profile in rows:
                yield RecordRef(source, key), profile

    def record_refs(self, record_ids: Collection[RecordId]) -> dict[RecordId, RecordRef]:
        with self._reading() as conn:
            rows = conn.execute(_RECORD_REFS, {"ids": dumps(list(record_ids))})
            return {rid: RecordRef(source, key) for rid, source, key in rows}

    def iter_records(self, batch_size: int = 10_000) -> Iterator[StoredRecord]:
        for rows in self._pages("iter_records", _RECORDS_PAGE, (0,), batch_size):
            yield from (self._record(row) for row in rows)

    def import_records(self, records: Sequence[StoredRecord]) -> list[RecordId]:
        wanted = sorted({r.profile_id for r in records if r.profile_id is not None})
        ids: list[RecordId] = []
        with self._transaction():
            missing = self._execute(_MISSING_PROFILES, {"ids": dumps(wanted)}).fetchall()
            if missing:
                raise ProfilesNotImported([pid for (pid,) in missing])
            for stored in records:
                record = stored.record
                row = (
                    record.source,
                    record.key,
                    identifiers_json(record.identifiers),
                    dumps(record.attributes),
                    dumps(record.raw),
                    encode_stamp(record.timestamp),
                    stored.profile_id,
                    stored.ingested_at.isoformat(),
                    stored.updated_at.isoformat(),
                )
                ids.append(self._execute(_IMPORT_RECORD, row).fetchone()[0])
            self._executemany(
                _ADD_EDGE,
                [
                    (i.kind, i.value, rid, i.original)
                    for rid, stored in zip(ids, records, strict=True)
                    for i in stored.record.identifiers
                ],
            )
        return ids

    def identifiers_of(self, record_ids: Collection[RecordId]) -> dict[RecordId, list[Identifier]]:
        result: dict[RecordId, list[Identifier]] = {}
        with self._reading() as conn:
            for rid, text in conn.execute(_IDENTIFIERS_OF, {"ids": dumps(list(record_ids))}):
                result[rid] = list(load_identifiers(text))
        return result

    def identifier_counts(self, keys: Collection[IdentifierKey]) -> dict[IdentifierKey, int]:
        with self._reading() as conn:
            rows = conn.execute(_IDENTIFIER_COUNTS, {"keys": _key_list(keys)})
            return {IdentifierKey(kind, value): count for kind, value, count in rows}

    def records_with(self, keys: Collection[IdentifierKey]) -> dict[IdentifierKey, list[RecordId]]:
        result: dict[IdentifierKey, list[RecordId]] = {IdentifierKey(*k): [] for k in keys}
        with self._reading() as conn:
            for kind, value, rid in conn.execute(_RECORDS_WITH, {"keys": _key_list(keys)}):
                result[IdentifierKey(kind, value)].append(rid)
        return result

    def put_identifier_flags(
        self, flags: Sequence[IdentifierFlag], cleared: Collection[IdentifierKey] = ()
    ) -> None:
        with self._transaction():
            self._executemany(_CLEAR_FLAG, [(k.kind, k.value) for k in cleared])
            self._executemany(
                _PUT_FLAG,
                [(f.key.kind, f.key.value, f.reason.value, f.record_count) for f in flags],
            )

    def identifier_flags(self, limit: int = 1000) -> list[IdentifierFlag]:
        with self._reading() as conn:
            return [
                IdentifierFlag(IdentifierKey(kind, value), IdentifierFlagReason(reason), count)
                for kind, value, reason, count in conn.execute(_FLAGS, (limit,))
            ]

    def iter_identifier_flags(self, batch_size: int = 10_000) -> Iterator[IdentifierFlag]:
        for rows in self._pages("iter_identifier_flags", _FLAGS_PAGE, ("", ""), batch_size):
            for kind, value, reason, count in rows:
                yield IdentifierFlag(
                    IdentifierKey(kind, value), IdentifierFlagReason(reason), count
                )

    # -- the match index -------------------------------------------------------------------

    @staticmethod
    def _match_row(row: tuple[Any, ...]) -> MatchRow:
        rid, fields, keys = row
        return MatchRow(rid, json.loads(fields), tuple(json.loads(keys)))

    def put_match_rows(self, rows: Sequence[MatchRow]) -> None:
        with self._transaction():
            self._execute(_DELETE_BLOCKING_KEYS, {"ids": dumps([r.record_id for r in rows])})
            self._executemany(
                _PUT_MATCH_ROW,
                [(r.record_id, dumps(r.fields), dumps(list(r.keys))) for r in rows],
            )
            self._executemany(
                _ADD_BLOCKING_KEY, [(key, r.record_id) for r in rows for key in r.keys]
            )

    def match_rows_with_keys(self, keys: Collection[str]) -> list[MatchRow]:
        with self._reading() as conn:
            rows = conn.execute(_MATCH_ROWS_WITH_KEYS, {"keys": dumps(list(keys))}).fetchall()
        return [self._match_row(row) for row in rows]

    def match_rows_of(self, record_ids: Collection[RecordId]) -> list[MatchRow]:
        with self._reading() as conn:
            rows = conn.execute(_MATCH_ROWS_OF, {"ids": dumps(sorted(set(record_ids)))}).fetchall()
        return [self._match_row(row) for row in rows]

    def blocking_key_counts(self, keys: Collection[str]) -> dict[str, int]:
        with self._reading() as conn:
            rows = conn.execute(_BLOCKING_KEY_COUNTS, {"keys": dumps(sorted(set(keys)))}).fetchall()
        return {key: int(count) for key, count in rows}

    def iter_match_rows(self, batch_size: int = 10_000) -> Iterator[list[MatchRow]]:
        for rows in self._pages("iter_match_rows", _MATCH_ROWS_PAGE, (-1,), batch_size):
            yield [self._match_row(row) for row in rows]

    def clear_match_rows(self) -> None:
        with self._transaction():
            for sql in _CLEAR_MATCH_ROWS:
                self._execute(sql)

    # -- links -----------------------------------------------------------------------------

    def links_of(
        self,
        record_ids: Collection[RecordId],
        types: Collection[LinkType] | None = None,
        evidence: bool = True,
    ) -> list[Link]:
        wanted = None if types is None else {LinkType(t) for t in types}
        params = {"ids": dumps(list(record_ids)), "evidence": evidence}
        with self._reading() as conn:
            rows = conn.execute(_LINKS_OF, params).fetchall()
        return [
            Link(a, b, LinkType(kind), matcher, weight, json.loads(found) if evidence else {})
            for a, b, kind, matcher, weight, found in rows
            if wanted is None or kind in wanted
        ]

    @staticmethod
    def _link_rows(links: Sequence[Link]) -> list[tuple[Any, ...]]:
        return [
            (link.a, link.b, link.type.value, link.matcher, link.weight, dumps(link.evidence))
            for link in links
        ]

    def iter_links(self, batch_size: int = 10_000) -> Iterator[Link]:
        for rows in self._pages("iter_links", _LINKS_PAGE, (0, 0, "", ""), batch_size):
            for a, b, kind, matcher, weight, evidence in rows:
                yield Link(a, b, LinkType(kind), matcher, weight, json.loads(evidence))

    def put_links(self, links: Sequence[Link]) -> None:
        with self._transaction():
            self._executemany(_PUT_LINK, self._link_rows(links))

    def replace_links(
        self, record_ids: Collection[RecordId], matcher: str, links: Sequence[Link]
    ) -> None:
        with self._transaction():
            self._execute(
                _DELETE_MATCHER_LINKS, {"matcher": matcher, "ids": dumps(list(record_ids))}
            )
            self._executemany(_PUT_LINK, self._link_rows(links))

    def delete_links(
        self, pairs: Collection[tuple[RecordId, RecordId]], types: Collection[LinkType]
    ) -> int:
        rows = [(min(a, b), max(a, b), LinkType(t).value) for a, b in pairs for t in types]
        with self._transaction():
            before = self._conn.total_changes
            self._executemany(_DELETE_LINK, rows)
            return self._conn.total_changes - before

    # -- profiles --------------------------------------------------------------------------

    def profile_ids_of(self, record_ids: Collection[RecordId]) -> dict[RecordId, ProfileId]:
        with self._reading() as conn:
            rows = conn.execute(_PROFILE_IDS_OF, {"ids": dumps(list(record_ids))})
            return dict(rows.fetchall())

    def records_of_profiles(
        self, profile_ids: Collection[ProfileId]
    ) -> dict[ProfileId, list[RecordId]]:
        result: dict[ProfileId, list[RecordId]] = {pid: [] for pid in profile_ids}
        with self._reading() as conn:
            for pid, rid in conn.execute(_RECORDS_OF_PROFILES, {"ids": dumps(list(result))}):
                result[pid].append(rid)
        return result

    def get_profiles(self, profile_ids: Collection[ProfileId]) -> dict[ProfileId, ProfileRow]:
        with self._reading() as conn:
            rows = conn.execute(_GET_PROFILES, {"ids": dumps(list(profile_ids))}).fetchall()
        return {
            pid: ProfileRow(
                pid,
                datetime.fromisoformat(created),
                datetime.fromisoformat(updated),
                tuple(json.loads(merged)),
                split_from,
            )
            for pid, created, updated, merged, split_from in rows
        }

    def resolve_profile_ids(self, profile_ids: Collection[ProfileId]) -> dict[ProfileId, ProfileId]:
        ids = list(profile_ids)
        with self._reading() as conn:
            rows = conn.execute(_PROFILE_STATUS, {"ids": dumps(ids)}).fetchall()
            targets = {pid: target for pid, status, target in rows if status == "merged"}
            live = {pid for pid, status, _ in rows if status == "live"}
            if targets:
                # Redirects are kept pointing at the final survivor; check it is still live.
                pending = dumps(sorted(set(targets.values())))
                live.update(
                    pid
                    for pid, status, _ in conn.execute(_PROFILE_STATUS, {"ids": pending})
                    if status == "live"
                )
        result: dict[ProfileId, ProfileId] = {}
        for pid in ids:
            target = targets.get(pid, pid)
            if target in live:
                result[pid] = target
        return result

    def profiles_with(
        self, keys: Collection[IdentifierKey]
    ) -> dict[IdentifierKey, list[ProfileId]]:
        result: dict[IdentifierKey, list[ProfileId]] = {IdentifierKey(*k): [] for k in keys}
        with self._reading() as conn:
            for kind, value, pid in conn.execute(_PROFILES_WITH, {"keys": _key_list(keys)}):
                result[IdentifierKey(kind, value)].append(pid)
        return result

    def apply_profile_changes(self, changes: ProfileChanges, now: datetime) -> None:
        stamp = now.isoformat()
        with self._transaction():
            self._executemany(
                _CREATE_PROFILE,
                [(pid, stamp, stamp, changes.split_from.get(pid)) for pid in changes.created],
            )
            self._executemany(_ASSIGN, [(pid, rid) for rid, pid in changes.assignments.items()])
            # One read per retired id and per survivor, as the merges apply: each id's history
            # before the batch (a retire only empties the retired id's own history).
            histories: dict[ProfileId, list[ProfileId]] = {}
            for pid in [*sorted(changes.merged), *sorted(set(changes.merged.values()))]:
                row = self._execute(_MERGED_FROM, (pid,)).fetchone()
                if row is not None:
                    histories.setdefault(pid, json.loads(row[0]))
            fold = fold_merges(changes.merged, histories)
            for retired, survivor in fold.steps:
                self._execute(_RETIRE, {"survivor": survivor, "now": stamp, "retired": retired})
                self._execute(_FOLLOW, {"survivor": survivor, "retired": retired})
            for survivor, merged in fold.survivors.items():
                self._execute(_SET_MERGED_FROM, (dumps(merged), stamp, survivor))
            self._executemany(_DELETE_PROFILE, [(stamp, pid) for pid in changes.deleted])
            self._executemany(_TOUCH, [(stamp, pid) for pid in sorted(changes.touched)])
            self._executemany(
                _LOG_PROFILE_CHANGE,
                [
                    (kind.value, pid, stamp, related)
                    for kind, pid, related in change_log_rows(changes)
                ],
            )

    def iter_profile_ids(self, batch_size: int = 10_000) -> Iterator[ProfileId]:
        for rows in self._pages("iter_profile_ids", _PROFILE_PAGE, ("",), batch_size):
            yield from (pid for (pid,) in rows)

    def iter_profiles(self, batch_size: int = 10_000) -> Iterator[StoredProfile]:
        for rows in self._pages("iter_profiles", _PROFILES_PAGE, ("",), batch_size):
            for pid, status, redirect, merged, created, updated, split_from in rows:
                yield StoredProfile(
                    pid,
                    ProfileStatus(status),
                    datetime.fromisoformat(created),
                    datetime.fromisoformat(updated),
                    tuple(json.loads(merged)),
                    redirect,
                    split_from,
                )

    def import_profiles(self, profiles: Sequence[StoredProfile]) -> None:
        with self._transaction():
            self._executemany(
                _IMPORT_PROFILE,
                [
                    (
                        p.id,
                        ProfileStatus(p.status).value,
                        p.redirect_to,
                        dumps(list(p.merged_from)),
                        p.created_at.isoformat(),
                        p.updated_at.isoformat(),
                        p.split_from,
                    )
                    for p in profiles
                ],
            )

    # -- stewardship -----------------------------------------------------------------------

    def profile_change_log(self, after: int = 0, limit: int = 1000) -> list[ProfileChangeRecord]:
        with self._reading() as conn:
            rows = conn.execute(_PROFILE_CHANGE_LOG, (after, limit)).fetchall()
        return [
            ProfileChangeRecord(
                seq, ProfileChangeKind(kind), pid, datetime.fromisoformat(at), related
            )
            for seq, kind, pid, at, related in rows
        ]

    def links_of_type(
        self, type: LinkType, after: tuple[RecordId, RecordId] | None = None, limit: int = 100
    ) -> list[Link]:
        a, b = after or (0, 0)
        with self._reading() as conn:
            rows = conn.execute(_LINKS_OF_TYPE, (LinkType(type).value, a, b, limit)).fetchall()
        return [
            Link(a, b, LinkType(kind), matcher, weight, json.loads(evidence))
            for a, b, kind, matcher, weight, evidence in rows
        ]

    def append_audit(self, entries: Sequence[AuditEntry], now: datetime) -> list[int]:
        at = now.isoformat()
        ids: list[int] = []
        with self._transaction():
            # One statement per entry: RETURNING gives each its id (entries come a few
            # at a time, one per action or batch, so this is no per-row loop over data).
            for e in entries:
                row = (at, e.actor, e.action, e.target, e.reason)
                values = (*row, dumps(e.before), dumps(e.after), e.undoes)
                ids.append(self._execute(_APPEND_AUDIT, values).fetchone()[0])
        return ids

    @staticmethod
    def _audit(row: tuple[Any, ...]) -> StoredAuditEntry:
        aid, at, actor, action, target, reason, before, after, undoes, undone_by = row
        entry = AuditEntry(
            actor, action, target, reason, json.loads(before), json.loads(after), undoes
        )
        return StoredAuditEntry(aid, datetime.fromisoformat(at), entry, undone_by)

    def audit_entries(
        self,
        before: int | None = None,
        limit: int = 100,
        actor: str | None = None,
        action: str | None = None,
    ) -> list[StoredAuditEntry]:
        params = {
            "before": before if before is not None else sys.maxsize,
            "limit": limit,
            "actor": actor,
            "action": action,
        }
        with self._reading() as conn:
            return [self._audit(row) for row in conn.execute(_AUDIT_ENTRIES, params)]

    def get_audit_entries(self, ids: Collection[int]) -> dict[int, StoredAuditEntry]:
        with self._reading() as conn:
            rows = conn.execute(_AUDIT_BY_ID, {"ids": dumps(list(ids))}).fetchall()
        return {row[0]: self._audit(row) for row in rows}

    def import_audit(self, entries: Sequence[StoredAuditEntry]) -> None:
        with self._transaction():
            self._executemany(
                _IMPORT_AUDIT,
                [
                    (
                        e.id,
                        e.at.isoformat(),
                        e.entry.actor,
                        e.entry.action,
                        e.entry.target,
                        e.entry.reason,
                        dumps(e.entry.before),
                        dumps(e.entry.after),
                        e.entry.undoes,
                    )
                    for e in sorted(entries, key=lambda e: e.id)
                ],
            )

    def import_profile_change_log(self, records: Sequence[ProfileChangeRecord]) -> None:
        with self._transaction():
            self._executemany(
                _IMPORT_PROFILE_CHANGE,
                [(r.seq, r.kind.value, r.profile_id, r.at.isoformat(), r.related) for r in records],
            )

    # -- events ----------------------------------------------------------------------------

    def put_events(self, events: Sequence[Event], now: datetime) -> list[EventWrite]:
        last = {e.event_id: e for e in events}
        received = now.isoformat()
        with self._transaction():
            stored = dict(self._execute(_EVENTS_BY_ID, {"ids": dumps(list(last))}).fetchall())
            bodies = {eid: event_document(e) for eid, e in last.items()}
            changed = [eid for eid, body in bodies.items() if stored.get(eid) != body]
            self._execute(_DELETE_EVENT_EDGES, {"ids": dumps([e for e in changed if e in stored])})
            self._executemany(
                _PUT_EVENT,
                [
                    (
                        eid,
                        last[eid].type,
                        last[eid].channel,
                        utc_key(last[eid].timestamp),
                        bodies[eid],
                        received,
                    )
                    for eid in changed
                ],
            )
            self._executemany(
                _ADD_EVENT_EDGE,
                [(i.kind, i.value, eid) for eid in changed for i in last[eid].identifiers],
            )
        writes: list[EventWrite] = []
        seen: set[str] = set()
        differs = set(changed)
        for event in events:
            eid = event.event_id
            created = eid not in stored and eid not in seen
            writes.append(EventWrite(eid, created, eid in differs and eid not in seen))
            seen.add(eid)
        return writes

    def journey(self, profile_id: ProfileId, query: EventQuery) -> list[Event]:
        after_ts, after_id = (
            (utc_key(query.after[0]), query.after[1]) if query.after else (None, None)
        )
        params = {
            "profile": profile_id,
            "types": dumps(list(query.types)) if query.types is not None else None,
            "channels": dumps(list(query.channels)) if query.channels is not None else None,
            "since": utc_key(query.since) if query.since else None,
            "until": utc_key(query.until) if query.until else None,
            "after_ts": after_ts,
            "after_id": after_id,
            "limit": query.limit,
        }
        sql = _JOURNEY_NEWEST_FIRST if query.newest_first else _JOURNEY_OLDEST_FIRST
        with self._reading() as conn:
            return [event_from_document(eid, body) for eid, body in conn.execute(sql, params)]

    def events_of_profiles(
        self, profile_ids: Collection[ProfileId], since: datetime | None = None
    ) -> dict[ProfileId, list[Event]]:
        found: dict[ProfileId, list[Event]] = {pid: [] for pid in profile_ids}
        params = {"ids": dumps(list(found)), "since": utc_key(since) if since else None}
        with self._reading() as conn:
            for pid, _, eid, body in conn.execute(_EVENTS_OF_PROFILES, params):
                found[pid].append(event_from_document(eid, body))
        return found

    def profiles_of_events(self, event_ids: Collection[str]) -> dict[str, list[ProfileId]]:
        found: dict[str, list[ProfileId]] = {eid: [] for eid in event_ids}
        with self._reading() as conn:
            for eid, pid in conn.execute(_PROFILES_OF_EVENTS, {"ids": dumps(list(found))}):
                found[eid].append(pid)
        return found

    def event_count(self) -> int:
        with self._reading() as conn:
            count: int = conn.execute(_EVENT_COUNT).fetchone()[0]
        return count

    def iter_events(self, batch_size: int = 10_000) -> Iterator[Event]:
        for rows in self._pages("iter_events", _EVENTS_PAGE, ("",), batch_size, until_empty=True):
            for eid, body in rows:
                yield event_from_document(eid, body)

    # -- segments --------------------------------------------------------------------------

    def put_segment(self, name: str, definition: dict[str, JSONValue], now: datetime) -> None:
        stamp = now.isoformat()
        with self._transaction():
            self._execute(_PUT_SEGMENT, (name, dumps(definition), stamp, stamp))

    def get_segments(self, names: Collection[str] | None = None) -> list[SegmentRow]:
        with self._reading() as conn:
            if names is None:
                rows = conn.execute(_ALL_SEGMENTS).fetchall()
            else:
                rows = conn.execute(_SEGMENTS_NAMED, {"names": dumps(list(names))}).fetchall()
        return [
            SegmentRow(name, json.loads(doc), datetime.fromisoformat(c), datetime.fromisoformat(u))
            for name, doc, c, u in rows
        ]

    def delete_segment(self, name: str) -> bool:
        with self._transaction():
            for sql in _DELETE_SEGMENT:
                deleted = self._execute(sql, {"name": name}).rowcount
        return deleted > 0

    def segment_members(
        self, name: str, after: ProfileId | None = None, limit: int = 1000
    ) -> list[ProfileId]:
        with self._reading() as conn:
            rows = conn.execute(_SEGMENT_MEMBERS, (name, after or "", limit)).fetchall()
        return [pid for (pid,) in rows]

    def segment_sizes(self, names: Collection[str] | None = None) -> dict[str, int]:
        params = {"names": dumps(list(names)) if names is not None else None}
        with self._reading() as conn:
            return dict(conn.execute(_SEGMENT_SIZES, params).fetchall())

    def memberships_of(self, profile_ids: Collection[ProfileId]) -> dict[ProfileId, list[str]]:
        found: dict[ProfileId, list[str]] = {pid: [] for pid in profile_ids}
        with self._reading() as conn:
            for pid, segment in conn.execute(_MEMBERSHIPS_OF, {"ids": dumps(list(found))}):
                found[pid].append(segment)
        return found

    def apply_membership_changes(self, changes: Sequence[MembershipChange], now: datetime) -> None:
        at = now.isoformat()
        with self._transaction():
            self._apply_members(changes)
            self._executemany(
                _LOG_CHANGE,
                [(c.segment, c.profile_id, c.kind.value, at, c.merged_into) for c in changes],
            )

    def _apply_members(self, changes: Sequence[MembershipChange | SegmentChange]) -> None:
        # The last change of each (segment, profile) in log order decides: a profile may
        # enter, exit and enter again within one batch.
        final: dict[tuple[str, ProfileId], MembershipKind] = {}
        for c in changes:
            final[(c.segment, c.profile_id)] = c.kind
        self._executemany(
            _ADD_MEMBER, [m for m, kind in final.items() if kind == MembershipKind.ENTERED]
        )
        self._executemany(
            _REMOVE_MEMBER, [m for m, kind in final.items() if kind == MembershipKind.EXITED]
        )

    def segment_changes(self, name: str, after: int = 0, limit: int = 1000) -> list[SegmentChange]:
        with self._reading() as conn:
            rows = conn.execute(_SEGMENT_CHANGES, (name, after, limit)).fetchall()
        return [_segment_change(row) for row in rows]

    def last_change_seq(self) -> int:
        with self._reading() as conn:
            seq: int = conn.execute(_LAST_CHANGE_SEQ).fetchone()[0]
        return seq

    def iter_segment_changes(self, batch_size: int = 10_000) -> Iterator[SegmentChange]:
        for rows in self._pages(
            "iter_segment_changes", _CHANGES_PAGE, (0,), batch_size, until_empty=True
        ):
            yield from (_segment_change(row) for row in rows)

    def import_segment_changes(self, changes: Sequence[SegmentChange]) -> None:
        names = sorted({c.segment for c in changes})
        with self._transaction():
            missing = [
                name for (name,) in self._execute(_MISSING_SEGMENTS, {"names": dumps(names)})
            ]
            if missing:
                raise StoreError(
                    f"cannot import changes of segments this store does not hold: "
                    f"{', '.join(missing)}; import their definitions first"
                )
            in_log_order: list[SegmentChange] = sorted(changes, key=lambda c: c.seq)
            self._apply_members(in_log_order)
            self._executemany(
                _IMPORT_CHANGE,
                [
                    (c.seq, c.segment, c.profile_id, c.kind.value, c.at.isoformat(), c.merged_into)
                    for c in changes
                ],
            )
