"""The production store: the identity graph in Neo4j 5, through the official driver.

Graph model (docs/graph-model.md): ``(:Record)-[:HAS_IDENTIFIER]->(:Identifier)``,
``(:Record)-[:LINK]->(:Record)``, ``(:Record)-[:IN_PROFILE]->(:Profile)``,
``(:Profile)-[:REDIRECTS_TO]->(:Profile)`` for merged ids, ``(:Event)-[:CARRIES]->(:Identifier)``
on the same identifier nodes, ``(:Segment)`` with ``(:SegmentMember)`` and
``(:SegmentChange)`` nodes keyed by segment name and profile id, and the stewardship logs
``(:ProfileChange)`` and ``(:AuditEntry)``. Every statement is a file in
``cypher/`` loaded by name (:mod:`identity.store.cypher`); none is written here.

Each store method is one managed transaction (``execute_read`` / ``execute_write``, so the
driver retries transient failures and lost leaders) holding a fixed number of statements
per batch: rows travel as one ``$rows`` list unpacked by ``UNWIND``, never one statement
per row. :attr:`Neo4jStore.statement_counts` counts the statements each operation sent, so
a regression to per-row statements shows (and is asserted by the Neo4j tests).
Inside :meth:`unit_of_work` every call of the same thread joins one explicit transaction,
which is not retried (the block's own code cannot be replayed); :meth:`reading` does the
same for reads, in a read transaction, so reading a profile is one round trip per
statement instead of a transaction (and its commit) per statement.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import datetime
from typing import Any, LiteralString, TypeVar, cast

import neo4j
from neo4j import exceptions as neo4j_errors

from identity.errors import ConfigError, ProfilesNotImported, StoreError, StoreUnavailable
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
    unique,
    unique_keys,
    utc,
)
from identity.store.cypher import statement, statements

SCHEMA_VERSION = 4
"""The version of ``cypher/schema.cypher``; a graph migrated by a newer idgraph is refused."""

DEFAULT_BATCH_SIZE = 10_000
"""Rows per ``UNWIND`` statement: big enough that 10k records are a handful of statements,
small enough to keep each statement's parameters to a few megabytes."""

T = TypeVar("T")
Row = neo4j.Record


def _keys(keys: Collection[IdentifierKey]) -> list[dict[str, str]]:
    return [{"kind": k, "value": v} for k, v in unique_keys(keys)]


def _last(field: str, kind: Callable[[Any], T]) -> Callable[[Row], T]:
    """A page's key: one field of its last row."""
    return lambda row: kind(row[field])


def _event_keys(body: str) -> set[IdentifierKey]:
    return {IdentifierKey(k, v) for k, v, _ in json.loads(body)["identifiers"]}


def _segment_change(row: Row) -> SegmentChange:
    return SegmentChange(
        int(row["seq"]),
        row["segment"],
        row["profile_id"],
        MembershipKind(row["kind"]),
        datetime.fromisoformat(row["at"]),
        row["merged_into"],
    )


def _profile_change(row: Row) -> ProfileChangeRecord:
    return ProfileChangeRecord(
        int(row["seq"]),
        ProfileChangeKind(row["kind"]),
        row["profile_id"],
        datetime.fromisoformat(row["at"]),
        row["related"],
    )


def _audit_entry(row: Row) -> StoredAuditEntry:
    undoes, undone_by = row["undoes"], row["undone_by"]
    return StoredAuditEntry(
        int(row["id"]),
        datetime.fromisoformat(row["at"]),
        AuditEntry(
            row["actor"],
            row["action"],
            row["target"],
            row["reason"],
            json.loads(row["before"]),
            json.loads(row["after"]),
            int(undoes) if undoes is not None else None,
        ),
        int(undone_by) if undone_by is not None else None,
    )


def _audit_row(entry_id: int, at: datetime, entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry_id,
        "at": at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        # Text, as the embedded store's column keeps it: an id given as a number comes back
        # the same from both stores.
        "target": str(entry.target) if entry.target is not None else None,
        "reason": entry.reason,
        "before": dumps(entry.before),
        "after": dumps(entry.after),
        "undoes": entry.undoes,
    }


def _query(text: str) -> LiteralString:
    # Statement texts come from the packaged .cypher files, never from input: values
    # only ever travel as parameters.
    return text


class _Statements:
    """Runs named statements in one transaction, counting each under its operation."""

    def __init__(
        self,
        tx: neo4j.ManagedTransaction | neo4j.Transaction,
        store: Neo4jStore,
        operation: str,
    ) -> None:
        self._tx = tx
        self._store = store
        self._operation = operation

    def run(self, name: str, /, **params: Any) -> list[Row]:
        return self.run_text(statement(name), params)

    def run_text(self, text: str, params: dict[str, Any] | None = None) -> list[Row]:
        self._store._count(self._operation)
        return list(self._tx.run(_query(text), params))

    def batched(self, name: str, key: str, rows: Sequence[Any], **params: Any) -> list[Row]:
        """The statement once per batch of ``rows`` (passed as ``$key``); none for no rows."""
        size = self._store.batch_size
        found: list[Row] = []
        for start in range(0, len(rows), size):
            found.extend(self.run(name, **{key: list(rows[start : start + size])}, **params))
        return found


class Neo4jStore(Store):
    """The identity graph in a Neo4j 5 database."""

    backend = "neo4j"

    def __init__(
        self,
        uri: str,
        *,
        user: str | None = None,
        password: str | None = None,
        database: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        self.uri = uri
        legacy.install(self)
        self.database = database or None
        self.batch_size = batch_size
        self.statement_counts: Counter[str] = Counter()
        """Statements sent per store operation since the store was opened (a metric)."""
        self._counts_lock = threading.Lock()
        self._local = threading.local()
        auth = (user, password or "") if user else None
        try:
            self._driver = neo4j.GraphDatabase.driver(
                uri,
                auth=auth,
                # Labels, types and properties a statement names before the graph holds any
                # (every read on a new graph) are expected, not worth a warning per statement;
                # performance and deprecation notices still reach the log.
                notifications_disabled_classifications=[
                    neo4j.NotificationDisabledClassification.UNRECOGNIZED
                ],
            )
        except (ValueError, neo4j_errors.ConfigurationError) as error:
            raise ConfigError(
                f"cannot use the Neo4j URL {uri}: {error}", field="IDGRAPH_STORE"
            ) from error
        try:
            # Fail fast (no retries) when the server is down or refuses the credentials.
            try:
                self._driver.verify_connectivity()
            except (neo4j_errors.Neo4jError, neo4j_errors.DriverError) as error:
                raise self._error(error, "connect") from error
            self._migrate()
        except BaseException:
            self._driver.close()
            raise

    # -- plumbing --------------------------------------------------------------------------

    @property
    def _where(self) -> str:
        return f"{self.uri} (database {self.database or 'default'})"

    def _count(self, operation: str) -> None:
        with self._counts_lock:
            self.statement_counts[operation] += 1

    def statements_per_operation(self) -> dict[str, int]:
        with self._counts_lock:
            return dict(self.statement_counts)

    def _pages(
        self,
        operation: str,
        text: str,
        start: Any,
        key_of: Callable[[Row], Any],
        batch_size: int,
    ) -> Iterator[Sequence[Row]]:
        """Keyset pages of a statement's ``text`` (from :func:`statement`), one read
        transaction each: its parameters are ``limit`` and the last row's key, ``$after`` or,
        given a dict, the dict's names."""

        def fetch(after: Any) -> list[Row]:
            params = after if isinstance(after, dict) else {"after": after}
            return self._read(
                operation, lambda s: s.run_text(text, {**params, "limit": batch_size})
            )

        return keyset_pages(fetch, key_of, start, batch_size)

    def _session(self, access: str = neo4j.WRITE_ACCESS) -> neo4j.Session:
        # The driver's shared bookmark manager makes each session see the writes of the
        # sessions before it, also on a cluster.
        return self._driver.session(
            database=self.database,
            bookmark_manager=self._driver.execute_query_bookmark_manager,
            default_access_mode=access,
        )

    def _error(self, error: Exception, operation: str) -> StoreError:
        """A service error for a driver error; never the server's message, which can quote
        the values (e-mails, phones) a statement carried."""
        if isinstance(error, neo4j_errors.AuthError):
            return StoreUnavailable(
                f"Neo4j at {self._where} refused the credentials: check IDGRAPH_NEO4J_USER "
                "and IDGRAPH_NEO4J_PASSWORD"
            )
        if isinstance(error, neo4j_errors.ServiceUnavailable | neo4j_errors.SessionExpired):
            return StoreUnavailable(f"Neo4j at {self._where} is unavailable: {error}")
        if isinstance(error, neo4j_errors.Neo4jError):
            code = error.code or "unknown"
            if code.endswith("DatabaseNotFound") or isinstance(
                error, neo4j_errors.DatabaseUnavailable
            ):
                return StoreUnavailable(f"Neo4j at {self._where}: the database is not available")
            if isinstance(error, neo4j_errors.ConstraintError):
                return StoreError(f"{operation}: a Neo4j constraint refused the write ({code})")
            return StoreError(f"{operation} failed in Neo4j ({code})")
        return StoreError(f"{operation} failed: {type(error).__name__}")

    def _work(self, operation: str, work: Callable[[_Statements], T], *, write: bool) -> T:
        tx: neo4j.Transaction | None = getattr(self._local, "tx", None)
        if write and getattr(self._local, "read_only", False):
            raise StoreError(f"{operation}: cannot write inside a reading block")
        try:
            if tx is not None:
                return work(_Statements(tx, self, operation))
            with self._session() as session:

                def unit(managed: neo4j.ManagedTransaction) -> T:
                    return work(_Statements(managed, self, operation))

                if write:
                    return session.execute_write(unit)
                return session.execute_read(unit)
        except (neo4j_errors.Neo4jError, neo4j_errors.DriverError) as error:
            raise self._error(error, operation) from error

    def _read(self, operation: str, work: Callable[[_Statements], T]) -> T:
        return self._work(operation, work, write=False)

    def _write(self, operation: str, work: Callable[[_Statements], T]) -> T:
        return self._work(operation, work, write=True)

    def _migrate(self) -> None:
        current = self._schema_version()
        if current is not None and current > SCHEMA_VERSION:
            raise StoreError(
                f"the Neo4j graph at {self._where} has schema version {current}, newer than "
                f"this idgraph knows ({SCHEMA_VERSION}): upgrade idgraph"
            )
        if current == SCHEMA_VERSION:
            return
        # Schema statements cannot share a transaction with writes: one each, in order.
        for index, text in enumerate(statements("schema")):

            def apply(s: _Statements, text: str = text) -> None:
                s.run_text(text)

            try:
                self._write("migrate", apply)
            except StoreError as error:
                raise type(error)(f"schema.cypher statement {index + 1}: {error}") from error
        self._write("migrate", lambda s: s.run("set_schema_version", version=SCHEMA_VERSION))

    def _schema_version(self) -> int | None:
        rows = self._read("schema_version", lambda s: s.run("schema_version"))
        version = rows[0]["version"] if rows else None
        return int(version) if version is not None else None

    def _write_block(self) -> AbstractContextManager[None]:
        return self._unit_of_work()

    @contextmanager
    def _unit_of_work(self) -> Iterator[None]:
        if getattr(self._local, "read_only", False):
            raise StoreError("unit_of_work: cannot write inside a reading block")
        with self._explicit_transaction("unit_of_work", neo4j.WRITE_ACCESS):
            yield

    def _read_block(self) -> AbstractContextManager[None]:
        # A read transaction: on a cluster the driver sends it to a follower or read replica.
        return self._explicit_transaction("reading", neo4j.READ_ACCESS)

    @contextmanager
    def _explicit_transaction(self, operation: str, access: str) -> Iterator[None]:
        """One explicit transaction that every call of this thread joins until the block
        ends; committed at the end, rolled back on any error. Not retried: the block's
        own code cannot be replayed."""
        if getattr(self._local, "tx", None) is not None:
            yield  # joins the outer block
            return
        try:
            session = self._session(access)
            tx = session.begin_transaction()
        except (neo4j_errors.Neo4jError, neo4j_errors.DriverError) as error:
            raise self._error(error, operation) from error
        self._local.tx = tx
        self._local.read_only = access == neo4j.READ_ACCESS
        try:
            yield
        except BaseException:
            self._local.tx = None
            self._local.read_only = False
            with suppress(neo4j_errors.Neo4jError, neo4j_errors.DriverError):
                if not tx.closed():
                    tx.rollback()
            session.close()
            raise
        self._local.tx = None
        self._local.read_only = False
        try:
            tx.commit()
        except (neo4j_errors.Neo4jError, neo4j_errors.DriverError) as error:
            raise self._error(error, operation) from error
        finally:
            session.close()

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        self._driver.close()

    def health(self) -> StoreHealth:
        try:
            version = self._schema_version()
        except StoreError as error:
            return StoreHealth(False, self.backend, str(error))
        return StoreHealth(True, self.backend, f"{self._where} (schema v{version})")

    def counts(self) -> StoreCounts:
        row = self._read("counts", lambda s: s.run("counts"))[0]
        return StoreCounts(
            int(row["records"]), int(row["identifiers"]), int(row["profiles"]), int(row["links"])
        )

    def delete_everything(self) -> None:
        """Delete every node and relationship but the id sequences, then re-create the
        schema version. One auto-commit statement (``CALL ... IN TRANSACTIONS``), so not
        part of a :meth:`unit_of_work`."""
        self._count("delete_everything")
        try:
            with self._session() as session:
                session.run(_query(statement("delete_everything"))).consume()
        except (neo4j_errors.Neo4jError, neo4j_errors.DriverError) as error:
            raise self._error(error, "delete_everything") from error
        self._migrate()

    # -- source mappings and metadata ------------------------------------------------------

    def put_source(self, name: str, mapping: dict[str, JSONValue]) -> None:
        self._write("put_source", lambda s: s.run("put_source", name=name, mapping=dumps(mapping)))

    def get_source(self, name: str) -> dict[str, JSONValue] | None:
        rows = self._read("get_source", lambda s: s.run("get_source", name=name))
        return cast(dict[str, JSONValue], json.loads(rows[0]["mapping"])) if rows else None

    def get_sources(self, names: Collection[str]) -> dict[str, dict[str, JSONValue]]:
        wanted = sorted(set(names))
        rows = self._read("get_sources", lambda s: s.batched("get_sources", "names", wanted))
        return {str(row["name"]): json.loads(row["mapping"]) for row in rows}

    def list_sources(self) -> list[str]:
        rows = self._read("list_sources", lambda s: s.run("list_sources"))
        return [str(row["name"]) for row in rows]

    def get_meta(self, key: str) -> JSONValue | None:
        rows = self._read("get_meta", lambda s: s.run("get_meta", key=key))
        return json.loads(rows[0]["value"]) if rows else None

    def set_meta(self, key: str, value: JSONValue) -> None:
        self._write("set_meta", lambda s: s.run("set_meta", key=key, value=dumps(value)))

    def meta_keys(self) -> list[str]:
        rows = self._read("meta_keys", lambda s: s.run("meta_keys"))
        return [str(row["key"]) for row in rows]

    # -- records and identifiers -----------------------------------------------------------

    @staticmethod
    def _record(row: Row) -> StoredRecord:
        return StoredRecord(
            record_id=int(row["id"]),
            record=SourceRecord(
                source=row["source"],
                key=row["key"],
                identifiers=load_identifiers(row["identifiers"]),
                attributes=json.loads(row["attributes"]),
                timestamp=decode_stamp(row["timestamp"]),
                raw=json.loads(row["raw"]),
            ),
            profile_id=row["profile_id"],
            ingested_at=datetime.fromisoformat(row["ingested_at"]),
            updated_at=datetime.fromisoformat(row["updated_at"]),
        )

    def upsert_records(self, records: Sequence[SourceRecord], now: datetime) -> list[RecordWrite]:
        refs = [{"source": s, "key": k} for s, k in sorted({r.ref for r in records})]

        def work(s: _Statements) -> list[RecordWrite]:
            existing = {
                RecordRef(row["source"], row["key"]): StoredColumns(
                    int(row["id"]),
                    RecordColumns(
                        row["identifiers"], row["attributes"], row["raw"], row["timestamp"]
                    ),
                )
                for row in s.batched("records_by_ref", "refs", refs)
            }
            diff = diff_records(existing, records)
            # New records get ids in the order they first appear, as the embedded store's
            # autoincrement gives them.
            first = (
                int(s.run("allocate_record_ids", count=len(diff.created))[0]["first"])
                if diff.created
                else 0
            )
            new_ids = {ref: first + offset for offset, ref in enumerate(diff.created)}
            ids = diff.ids(new_ids)

            def rows(columns: dict[RecordRef, RecordColumns]) -> list[dict[str, Any]]:
                return [
                    {
                        "id": ids[ref],
                        "source": ref.source,
                        "key": ref.key,
                        "identifiers": c.identifiers,
                        "attributes": c.attributes,
                        "raw": c.raw,
                        "timestamp": c.timestamp,
                    }
                    for ref, c in columns.items()
                ]

            stamp = now.isoformat()
            s.batched("create_records", "rows", rows(diff.created_last()), now=stamp)
            s.batched("update_records", "rows", rows(diff.updated_existing()), now=stamp)
            removed = [
                {"record_id": ids[ref], "kind": k.kind, "value": k.value}
                for ref, k in diff.removed_edges
            ]
            s.batched("remove_identifier_edges", "rows", removed)
            added = [
                {"record_id": ids[ref], "kind": i.kind, "value": i.value, "original": i.original}
                for ref, i in diff.added_edges
            ]
            s.batched("add_identifier_edges", "rows", added)
            return diff.writes(new_ids)

        return self._write("upsert_records", work)

    def get_records(self, record_ids: Collection[RecordId]) -> dict[RecordId, StoredRecord]:
        ids = unique(record_ids)
        rows = self._read("get_records", lambda s: s.batched("records_by_id", "ids", ids))
        return {int(row["id"]): self._record(row) for row in rows}

    def record_ids(self, refs: Collection[RecordRef]) -> dict[RecordRef, RecordId]:
        wanted = [{"source": s, "key": k} for s, k in unique(RecordRef(*r) for r in refs)]
        rows = self._read("record_ids", lambda s: s.batched("record_ids", "refs", wanted))
        return {RecordRef(row["source"], row["key"]): int(row["id"]) for row in rows}

    def iter_record_profiles(
        self, batch_size: int = 10_000
    ) -> Iterator[tuple[RecordRef, ProfileId | None]]:
        pages = self._pages(
            "iter_record_profiles",
            statement("record_profiles_page"),
            {"source": "", "key": ""},
            lambda row: {"source": row["source"], "key": row["key"]},
            batch_size,
        )
        for rows in pages:
            for row in rows:
                yield RecordRef(row["source"], row["key"]), row["profile_id"]

    def record_refs(self, record_ids: Collection[RecordId]) -> dict[RecordId, RecordRef]:
        ids = unique(record_ids)
        rows = self._read("record_refs", lambda s: s.batched("record_refs", "ids", ids))
        return {int(row["id"]): RecordRef(row["source"], row["key"]) for row in rows}

    def iter_records(self, batch_size: int = 10_000) -> Iterator[StoredRecord]:
        for rows in self._pages(
            "iter_records", statement("records_page"), 0, _last("id", int), batch_size
        ):
            yield from (self._record(row) for row in rows)

    def import_records(self, records: Sequence[StoredRecord]) -> list[RecordId]:
        wanted = sorted({r.profile_id for r in records if r.profile_id is not None})

        def work(s: _Statements) -> list[RecordId]:
            missing = s.batched("missing_profiles", "ids", wanted)
            if missing:
                raise ProfilesNotImported([row["id"] for row in missing])
            if not records:
                return []
            first = int(s.run("allocate_record_ids", count=len(records))[0]["first"])
            ids = [first + offset for offset in range(len(records))]
            rows = [
                {
                    "id": rid,
                    "source": stored.record.source,
                    "key": stored.record.key,
                    "identifiers": identifiers_json(stored.record.identifiers),
                    "attributes": dumps(stored.record.attributes),
                    "raw": dumps(stored.record.raw),
                    "timestamp": encode_stamp(stored.record.timestamp),
                    "ingested_at": stored.ingested_at.isoformat(),
                    "updated_at": stored.updated_at.isoformat(),
                }
                for rid, stored in zip(ids, records, strict=True)
            ]
            s.batched("import_records", "rows", rows)
            edges = [
                {"record_id": rid, "kind": i.kind, "value": i.value, "original": i.original}
                for rid, stored in zip(ids, records, strict=True)
                for i in stored.record.identifiers
            ]
            s.batched("add_identifier_edges", "rows", edges)
            assignments = [
                {"record_id": rid, "profile_id": stored.profile_id}
                for rid, stored in zip(ids, records, strict=True)
                if stored.profile_id is not None
            ]
            s.batched("import_record_profiles", "rows", assignments)
            return ids

        return self._write("import_records", work)

    def identifiers_of(self, record_ids: Collection[RecordId]) -> dict[RecordId, list[Identifier]]:
        ids = unique(record_ids)
        rows = self._read("identifiers_of", lambda s: s.batched("identifiers_of", "ids", ids))
        return {int(row["id"]): list(load_identifiers(row["identifiers"])) for row in rows}

    def identifier_counts(self, keys: Collection[IdentifierKey]) -> dict[IdentifierKey, int]:
        wanted = _keys(keys)
        rows = self._read(
            "identifier_counts", lambda s: s.batched("identifier_counts", "keys", wanted)
        )
        return {IdentifierKey(row["kind"], row["value"]): int(row["records"]) for row in rows}

    def records_with(self, keys: Collection[IdentifierKey]) -> dict[IdentifierKey, list[RecordId]]:
        result: dict[IdentifierKey, list[RecordId]] = {IdentifierKey(*k): [] for k in keys}
        wanted = _keys(keys)
        rows = self._read("records_with", lambda s: s.batched("records_with", "keys", wanted))
        for row in rows:
            result[IdentifierKey(row["kind"], row["value"])].append(int(row["record_id"]))
        return result

    def put_identifier_flags(
        self, flags: Sequence[IdentifierFlag], cleared: Collection[IdentifierKey] = ()
    ) -> None:
        rows = [
            {
                "kind": f.key.kind,
                "value": f.key.value,
                "reason": f.reason.value,
                "record_count": f.record_count,
            }
            for f in flags
        ]
        gone = _keys(cleared)

        def work(s: _Statements) -> None:
            s.batched("clear_identifier_flags", "keys", gone)
            s.batched("put_identifier_flags", "rows", rows)

        self._write("put_identifier_flags", work)

    def identifier_flags(self, limit: int = 1000) -> list[IdentifierFlag]:
        rows = self._read("identifier_flags", lambda s: s.run("identifier_flags", limit=limit))
        return [
            IdentifierFlag(
                IdentifierKey(row["kind"], row["value"]),
                IdentifierFlagReason(row["reason"]),
                int(row["record_count"]),
            )
            for row in rows
        ]

    def iter_identifier_flags(self, batch_size: int = 10_000) -> Iterator[IdentifierFlag]:
        pages = self._pages(
            "iter_identifier_flags",
            statement("identifier_flags_page"),
            {"kind": "", "value": ""},
            lambda row: {"kind": row["kind"], "value": row["value"]},
            batch_size,
        )
        for rows in pages:
            for row in rows:
                yield IdentifierFlag(
                    IdentifierKey(row["kind"], row["value"]),
                    IdentifierFlagReason(row["reason"]),
                    int(row["record_count"]),
                )

    # -- the match index -------------------------------------------------------------------

    @staticmethod
    def _match_row(row: Row) -> MatchRow:
        return MatchRow(int(row["record_id"]), json.loads(row["fields"]), tuple(row["keys"]))

    def put_match_rows(self, rows: Sequence[MatchRow]) -> None:
        params = [
            {"record_id": r.record_id, "fields": dumps(r.fields), "keys": list(r.keys)}
            for r in rows
        ]
        self._write("put_match_rows", lambda s: s.batched("put_match_rows", "rows", params))

    def match_rows_with_keys(self, keys: Collection[str]) -> list[MatchRow]:
        wanted = sorted(set(keys))
        rows = self._read(
            "match_rows_with_keys", lambda s: s.batched("match_rows_with_keys", "keys", wanted)
        )
        # Batches of keys can find the same record twice.
        found = {int(row["record_id"]): row for row in rows}
        return [self._match_row(found[rid]) for rid in sorted(found)]

    def match_rows_of(self, record_ids: Collection[RecordId]) -> list[MatchRow]:
        ids = sorted(set(record_ids))
        rows = self._read("match_rows_of", lambda s: s.batched("match_rows_of", "ids", ids))
        return sorted((self._match_row(row) for row in rows), key=lambda r: r.record_id)

    def blocking_key_counts(self, keys: Collection[str]) -> dict[str, int]:
        wanted = sorted(set(keys))
        rows = self._read(
            "blocking_key_counts", lambda s: s.batched("blocking_key_counts", "keys", wanted)
        )
        return {str(row["key"]): int(row["records"]) for row in rows}

    def iter_match_rows(self, batch_size: int = 10_000) -> Iterator[list[MatchRow]]:
        pages = self._pages(
            "iter_match_rows", statement("match_rows_page"), -1, _last("record_id", int), batch_size
        )
        for rows in pages:
            yield [self._match_row(row) for row in rows]

    def clear_match_rows(self) -> None:
        def work(s: _Statements) -> None:
            s.run("clear_blocking_keys")
            s.run("clear_match_fields")

        self._write("clear_match_rows", work)

    # -- links -----------------------------------------------------------------------------

    def links_of(
        self,
        record_ids: Collection[RecordId],
        types: Collection[LinkType] | None = None,
        evidence: bool = True,
    ) -> list[Link]:
        ids = unique(record_ids)
        wanted = None if types is None else sorted({LinkType(t).value for t in types})
        rows = self._read(
            "links_of",
            lambda s: s.batched("links_of", "ids", ids, types=wanted, evidence=evidence),
        )
        links = {
            (int(row["a"]), int(row["b"]), row["type"], row["matcher"]): Link(
                int(row["a"]),
                int(row["b"]),
                LinkType(row["type"]),
                row["matcher"],
                float(row["weight"]),
                json.loads(row["evidence"]),
            )
            for row in rows
        }
        # Batches of ids can find the same link twice; order as one statement would.
        return [links[k] for k in sorted(links)]

    def iter_links(self, batch_size: int = 10_000) -> Iterator[Link]:
        # Pages of records, each with the links it is the lower end of: links per record
        # are few, so a page's links stay near batch_size.
        for rows in self._pages(
            "iter_links", statement("links_page"), 0, _last("a", int), batch_size
        ):
            for row in rows:
                a = int(row["a"])
                found = [
                    Link(
                        a,
                        int(link["b"]),
                        LinkType(link["type"]),
                        link["matcher"],
                        float(link["weight"]),
                        json.loads(link["evidence"]),
                    )
                    for link in row["links"]
                ]
                yield from sorted(found, key=lambda x: (x.b, x.type.value, x.matcher))

    @staticmethod
    def _link_rows(links: Sequence[Link]) -> list[dict[str, Any]]:
        # One row per (a, b, type, matcher), the last given winning, as the embedded store's
        # upsert leaves it: put_links finds existing links before any row of its batch adds one.
        rows = {
            (link.a, link.b, link.type.value, link.matcher): {
                "a": link.a,
                "b": link.b,
                "type": link.type.value,
                "matcher": link.matcher,
                "weight": float(link.weight),
                "evidence": dumps(link.evidence),
            }
            for link in links
        }
        return list(rows.values())

    def put_links(self, links: Sequence[Link]) -> None:
        rows = self._link_rows(links)
        self._write("put_links", lambda s: s.batched("put_links", "rows", rows))

    def replace_links(
        self, record_ids: Collection[RecordId], matcher: str, links: Sequence[Link]
    ) -> None:
        ids = unique(record_ids)
        rows = self._link_rows(links)

        def work(s: _Statements) -> None:
            s.batched("delete_matcher_links", "ids", ids, matcher=matcher)
            s.batched("put_links", "rows", rows)

        self._write("replace_links", work)

    def delete_links(
        self, pairs: Collection[tuple[RecordId, RecordId]], types: Collection[LinkType]
    ) -> int:
        rows = [
            {"a": min(a, b), "b": max(a, b), "type": LinkType(t).value}
            for a, b in pairs
            for t in types
        ]
        found = self._write("delete_links", lambda s: s.batched("delete_links", "rows", rows))
        return sum(int(row["deleted"]) for row in found)

    # -- profiles --------------------------------------------------------------------------

    def profile_ids_of(self, record_ids: Collection[RecordId]) -> dict[RecordId, ProfileId]:
        ids = unique(record_ids)
        rows = self._read("profile_ids_of", lambda s: s.batched("profile_ids_of", "ids", ids))
        return {int(row["record_id"]): row["profile_id"] for row in rows}

    def records_of_profiles(
        self, profile_ids: Collection[ProfileId]
    ) -> dict[ProfileId, list[RecordId]]:
        result: dict[ProfileId, list[RecordId]] = {pid: [] for pid in profile_ids}
        ids = list(result)
        rows = self._read(
            "records_of_profiles", lambda s: s.batched("records_of_profiles", "ids", ids)
        )
        for row in rows:
            result[row["profile_id"]].append(int(row["record_id"]))
        return result

    def get_profiles(self, profile_ids: Collection[ProfileId]) -> dict[ProfileId, ProfileRow]:
        ids = unique(profile_ids)
        rows = self._read("get_profiles", lambda s: s.batched("get_profiles", "ids", ids))
        return {
            row["id"]: ProfileRow(
                row["id"],
                datetime.fromisoformat(row["created_at"]),
                datetime.fromisoformat(row["updated_at"]),
                tuple(row["merged_from"] or ()),
                row["split_from"],
            )
            for row in rows
        }

    def resolve_profile_ids(self, profile_ids: Collection[ProfileId]) -> dict[ProfileId, ProfileId]:
        ids = unique(profile_ids)
        rows = self._read(
            "resolve_profile_ids", lambda s: s.batched("resolve_profile_ids", "ids", ids)
        )
        live = {row["id"]: row["live_id"] for row in rows}
        return {pid: live[pid] for pid in profile_ids if pid in live}

    def profiles_with(
        self, keys: Collection[IdentifierKey]
    ) -> dict[IdentifierKey, list[ProfileId]]:
        result: dict[IdentifierKey, list[ProfileId]] = {IdentifierKey(*k): [] for k in keys}
        wanted = _keys(keys)
        rows = self._read("profiles_with", lambda s: s.batched("profiles_with", "keys", wanted))
        for row in rows:
            result[IdentifierKey(row["kind"], row["value"])].append(row["profile_id"])
        return result

    def apply_profile_changes(self, changes: ProfileChanges, now: datetime) -> None:
        stamp = now.isoformat()
        created = [
            {"id": pid, "split_from": changes.split_from.get(pid)} for pid in changes.created
        ]
        assignments = [
            {"record_id": rid, "profile_id": pid} for rid, pid in changes.assignments.items()
        ]
        logged = change_log_rows(changes)

        def work(s: _Statements) -> None:
            s.batched("create_profiles", "rows", created, now=stamp)
            s.batched("assign_records", "rows", assignments)
            if changes.merged:
                s.batched("update_profile_states", "rows", self._merge(s, changes), now=stamp)
            s.batched("delete_profiles", "ids", list(changes.deleted), now=stamp)
            s.batched("touch_profiles", "ids", sorted(changes.touched), now=stamp)
            if not logged:
                return
            # Seqs from the sequence node, in this transaction: a concurrent writer waits on
            # its lock until this one commits or rolls back, so seqs become visible in order
            # and a consumer's cursor never skips one.
            first = int(s.run("allocate_profile_change_seqs", count=len(logged))[0]["first"])
            rows = [
                {
                    "seq": first + offset,
                    "kind": ProfileChangeKind(kind).value,
                    "profile_id": pid,
                    "at": stamp,
                    "related": related,
                }
                for offset, (kind, pid, related) in enumerate(logged)
            ]
            s.batched("log_profile_changes", "rows", rows)

        self._write("apply_profile_changes", work)

    @staticmethod
    def _merge(s: _Statements, changes: ProfileChanges) -> list[dict[str, Any]]:
        """The profile rows a batch of merges rewrites, from one read of the profiles
        involved (and the ids redirecting to them), folded as the embedded store applies
        merges (:func:`identity.store.changes.fold_merges`)."""
        involved = sorted(set(changes.merged) | set(changes.merged.values()))
        status: dict[ProfileId, str] = {}
        histories: dict[ProfileId, list[ProfileId]] = {}
        redirects: dict[ProfileId, ProfileId | None] = {}
        for row in s.batched("profile_states", "ids", involved):
            pid = row["id"]
            status[pid] = row["status"]
            histories[pid] = list(row["merged_from"] or ())
            redirects[pid] = row["redirect_to"]
            for follower in row["followers"]:
                redirects.setdefault(follower, pid)
        fold = fold_merges(changes.merged, histories, redirects)
        redirects.update(fold.redirects)
        rows: list[dict[str, Any]] = []
        for pid in fold.changed:
            if pid in status:
                rows.append(
                    {
                        "id": pid,
                        "status": "merged" if pid in changes.merged else status[pid],
                        "merged_from": fold.histories.get(pid, histories[pid]),
                        "redirect_to": redirects.get(pid),
                        "touch": pid in fold.touched,
                    }
                )
            else:  # an id that only followed a retired one: just its redirect moves
                rows.append({"id": pid, "redirect_to": redirects[pid], "touch": False})
        return rows

    def iter_profile_ids(self, batch_size: int = 10_000) -> Iterator[ProfileId]:
        pages = self._pages(
            "iter_profile_ids", statement("profile_ids_page"), "", _last("id", str), batch_size
        )
        for rows in pages:
            yield from (str(row["id"]) for row in rows)

    def iter_profiles(self, batch_size: int = 10_000) -> Iterator[StoredProfile]:
        for rows in self._pages(
            "iter_profiles", statement("profiles_page"), "", _last("id", str), batch_size
        ):
            for row in rows:
                yield StoredProfile(
                    row["id"],
                    ProfileStatus(row["status"]),
                    datetime.fromisoformat(row["created_at"]),
                    datetime.fromisoformat(row["updated_at"]),
                    tuple(row["merged_from"] or ()),
                    row["redirect_to"],
                    row["split_from"],
                )

    def import_profiles(self, profiles: Sequence[StoredProfile]) -> None:
        rows = [
            {
                "id": p.id,
                "status": ProfileStatus(p.status).value,
                "merged_from": list(p.merged_from),
                "split_from": p.split_from,
                "created_at": p.created_at.isoformat(),
                "updated_at": p.updated_at.isoformat(),
                "redirect_to": p.redirect_to,
            }
            for p in profiles
        ]
        self._write("import_profiles", lambda s: s.batched("import_profiles", "rows", rows))

    # -- stewardship -----------------------------------------------------------------------

    def profile_change_log(self, after: int = 0, limit: int = 1000) -> list[ProfileChangeRecord]:
        rows = self._read(
            "profile_change_log",
            lambda s: s.run("profile_change_log", after=after, limit=limit),
        )
        return [_profile_change(row) for row in rows]

    def import_profile_change_log(self, records: Sequence[ProfileChangeRecord]) -> None:
        if not records:
            return
        rows = [
            {
                "seq": r.seq,
                "kind": ProfileChangeKind(r.kind).value,
                "profile_id": r.profile_id,
                "at": r.at.isoformat(),
                "related": r.related,
            }
            for r in records
        ]

        def work(s: _Statements) -> None:
            s.batched("log_profile_changes", "rows", rows)
            s.run("advance_profile_change_seq", last=max(r.seq for r in records))

        self._write("import_profile_change_log", work)

    def links_of_type(
        self, type: LinkType, after: tuple[RecordId, RecordId] | None = None, limit: int = 100
    ) -> list[Link]:
        # Record ids start at 1, so (0, 0) is before every link.
        after_a, after_b = after or (0, 0)
        rows = self._read(
            "links_of_type",
            lambda s: s.run(
                "links_of_type",
                type=LinkType(type).value,
                after_a=after_a,
                after_b=after_b,
                limit=limit,
            ),
        )
        return [
            Link(
                int(row["a"]),
                int(row["b"]),
                LinkType(row["type"]),
                row["matcher"],
                float(row["weight"]),
                json.loads(row["evidence"]),
            )
            for row in rows
        ]

    @staticmethod
    def _require_audit_entries(s: _Statements, ids: Collection[int]) -> None:
        """Refuses undo entries naming entries the log does not hold (the embedded store's
        foreign key)."""
        missing = [int(row["id"]) for row in s.batched("missing_audit_entries", "ids", sorted(ids))]
        if missing:
            raise StoreError(
                f"cannot log an undo of audit entries this store does not hold: "
                f"{', '.join(map(str, missing))}"
            )

    def append_audit(self, entries: Sequence[AuditEntry], now: datetime) -> list[int]:
        if not entries:
            return []
        undone = {e.undoes for e in entries if e.undoes is not None}

        def work(s: _Statements) -> list[int]:
            self._require_audit_entries(s, undone)
            first = int(s.run("allocate_audit_ids", count=len(entries))[0]["first"])
            ids = [first + offset for offset in range(len(entries))]
            rows = [_audit_row(aid, now, e) for aid, e in zip(ids, entries, strict=True)]
            s.batched("log_audit_entries", "rows", rows)
            return ids

        return self._write("append_audit", work)

    def audit_entries(
        self,
        before: int | None = None,
        limit: int = 100,
        actor: str | None = None,
        action: str | None = None,
    ) -> list[StoredAuditEntry]:
        # One statement per filter, so each seeks its own index (a null-or-equal filter
        # would leave the planner only the scan of every entry).
        def page(s: _Statements) -> list[Row]:
            if actor is not None:
                return s.run(
                    "audit_entries_by_actor", before=before, limit=limit, actor=actor, action=action
                )
            if action is not None:
                return s.run("audit_entries_by_action", before=before, limit=limit, action=action)
            return s.run("audit_entries", before=before, limit=limit)

        return [_audit_entry(row) for row in self._read("audit_entries", page)]

    def get_audit_entries(self, ids: Collection[int]) -> dict[int, StoredAuditEntry]:
        wanted = unique(ids)
        rows = self._read(
            "get_audit_entries", lambda s: s.batched("audit_entries_by_id", "ids", wanted)
        )
        return {int(row["id"]): _audit_entry(row) for row in rows}

    def import_audit(self, entries: Sequence[StoredAuditEntry]) -> None:
        if not entries:
            return
        ordered = sorted(entries, key=lambda e: e.id)
        given = {e.id for e in ordered}
        undone = {e.entry.undoes for e in ordered if e.entry.undoes is not None} - given

        def work(s: _Statements) -> None:
            self._require_audit_entries(s, undone)
            rows = [_audit_row(e.id, e.at, e.entry) for e in ordered]
            s.batched("log_audit_entries", "rows", rows)
            s.run("advance_audit_id", last=ordered[-1].id)

        self._write("import_audit", work)

    # -- events ----------------------------------------------------------------------------

    def put_events(self, events: Sequence[Event], now: datetime) -> list[EventWrite]:
        last = {e.event_id: e for e in events}
        bodies = {eid: event_document(e) for eid, e in last.items()}

        def work(s: _Statements) -> dict[str, str]:
            stored: dict[str, str] = {
                row["event_id"]: row["body"] for row in s.batched("events_by_id", "ids", list(last))
            }
            changed = [eid for eid, body in bodies.items() if stored.get(eid) != body]
            rows = [
                {
                    "event_id": eid,
                    "type": last[eid].type,
                    "channel": last[eid].channel,
                    "ts": utc(last[eid].timestamp),
                    "body": bodies[eid],
                }
                for eid in changed
            ]
            s.batched("put_events", "rows", rows, now=now.isoformat())
            # Edges move from the stored version's identifiers to the new version's.
            removed = [
                {"event_id": eid, "kind": k.kind, "value": k.value}
                for eid in changed
                if eid in stored
                for k in sorted(_event_keys(stored[eid]) - {i.key for i in last[eid].identifiers})
            ]
            s.batched("remove_event_edges", "rows", removed)
            added = [
                {"event_id": eid, "kind": k.kind, "value": k.value}
                for eid in changed
                for k in dict.fromkeys(i.key for i in last[eid].identifiers)
            ]
            s.batched("add_event_edges", "rows", added)
            return stored

        stored = self._write("put_events", work)
        writes: list[EventWrite] = []
        seen: set[str] = set()
        for event in events:
            eid = event.event_id
            first = eid not in seen
            differs = stored.get(eid) != bodies[eid]
            writes.append(EventWrite(eid, first and eid not in stored, first and differs))
            seen.add(eid)
        return writes

    def journey(self, profile_id: ProfileId, query: EventQuery) -> list[Event]:
        after_ts, after_id = (utc(query.after[0]), query.after[1]) if query.after else (None, None)
        params = {
            "profile": profile_id,
            "types": list(query.types) if query.types is not None else None,
            "channels": list(query.channels) if query.channels is not None else None,
            "since": utc(query.since) if query.since else None,
            "until": utc(query.until) if query.until else None,
            "after_ts": after_ts,
            "after_id": after_id,
            "limit": query.limit,
        }

        def page(s: _Statements) -> list[Row]:
            if query.newest_first:
                return s.run("journey_newest_first", **params)
            return s.run("journey_oldest_first", **params)

        rows = self._read("journey", page)
        return [event_from_document(row["event_id"], row["body"]) for row in rows]

    def events_of_profiles(
        self, profile_ids: Collection[ProfileId], since: datetime | None = None
    ) -> dict[ProfileId, list[Event]]:
        found: dict[ProfileId, list[Event]] = {pid: [] for pid in profile_ids}
        ids = list(found)
        stamp = utc(since) if since else None
        rows = self._read(
            "events_of_profiles",
            lambda s: s.batched("events_of_profiles", "ids", ids, since=stamp),
        )
        # A profile's events come from one batch, already in (timestamp, event id) order.
        for row in rows:
            found[row["profile_id"]].append(event_from_document(row["event_id"], row["body"]))
        return found

    def profiles_of_events(self, event_ids: Collection[str]) -> dict[str, list[ProfileId]]:
        found: dict[str, list[ProfileId]] = {eid: [] for eid in event_ids}
        ids = list(found)
        rows = self._read(
            "profiles_of_events", lambda s: s.batched("profiles_of_events", "ids", ids)
        )
        for row in rows:
            found[row["event_id"]].append(row["profile_id"])
        return found

    def event_count(self) -> int:
        rows = self._read("event_count", lambda s: s.run("event_count"))
        return int(rows[0]["events"])

    def iter_events(self, batch_size: int = 10_000) -> Iterator[Event]:
        for rows in self._pages(
            "iter_events", statement("events_page"), "", _last("event_id", str), batch_size
        ):
            for row in rows:
                yield event_from_document(row["event_id"], row["body"])

    # -- segments --------------------------------------------------------------------------

    def put_segment(self, name: str, definition: dict[str, JSONValue], now: datetime) -> None:
        self._write(
            "put_segment",
            lambda s: s.run(
                "put_segment", name=name, definition=dumps(definition), now=now.isoformat()
            ),
        )

    def get_segments(self, names: Collection[str] | None = None) -> list[SegmentRow]:
        wanted = sorted(set(names)) if names is not None else None
        rows = self._read("get_segments", lambda s: s.run("get_segments", names=wanted))
        return [
            SegmentRow(
                row["name"],
                json.loads(row["definition"]),
                datetime.fromisoformat(row["created_at"]),
                datetime.fromisoformat(row["updated_at"]),
            )
            for row in rows
        ]

    def delete_segment(self, name: str) -> bool:
        rows = self._write("delete_segment", lambda s: s.run("delete_segment", name=name))
        return int(rows[0]["deleted"]) > 0

    def segment_members(
        self, name: str, after: ProfileId | None = None, limit: int = 1000
    ) -> list[ProfileId]:
        rows = self._read(
            "segment_members",
            lambda s: s.run("segment_members", name=name, after=after or "", limit=limit),
        )
        return [str(row["profile_id"]) for row in rows]

    def segment_sizes(self, names: Collection[str] | None = None) -> dict[str, int]:
        wanted = sorted(set(names)) if names is not None else None
        rows = self._read("segment_sizes", lambda s: s.run("segment_sizes", names=wanted))
        return {row["name"]: int(row["members"]) for row in rows}

    def memberships_of(self, profile_ids: Collection[ProfileId]) -> dict[ProfileId, list[str]]:
        found: dict[ProfileId, list[str]] = {pid: [] for pid in profile_ids}
        ids = list(found)
        rows = self._read("memberships_of", lambda s: s.batched("memberships_of", "ids", ids))
        for row in rows:
            found[row["profile_id"]].append(row["segment"])
        return found

    @staticmethod
    def _require_segments(s: _Statements, names: Collection[str]) -> None:
        missing = [row["name"] for row in s.batched("missing_segments", "names", sorted(names))]
        if missing:
            raise StoreError(
                f"cannot change the members of segments this store does not hold: "
                f"{', '.join(missing)}; define them (or import their definitions) first"
            )

    @staticmethod
    def _apply_members(
        s: _Statements, changes: Sequence[MembershipChange] | Sequence[SegmentChange]
    ) -> None:
        """Members as the changes leave them: the last change of each (segment, profile),
        in the given order, decides (a profile may enter, exit and enter again)."""
        final: dict[tuple[str, ProfileId], MembershipKind] = {}
        for c in changes:
            final[(c.segment, c.profile_id)] = MembershipKind(c.kind)
        rows = {
            kind: [
                {"segment": segment, "profile_id": pid}
                for (segment, pid), k in final.items()
                if k == kind
            ]
            for kind in MembershipKind
        }
        s.batched("add_segment_members", "rows", rows[MembershipKind.ENTERED])
        s.batched("remove_segment_members", "rows", rows[MembershipKind.EXITED])

    def apply_membership_changes(self, changes: Sequence[MembershipChange], now: datetime) -> None:
        if not changes:
            return
        at = now.isoformat()

        def work(s: _Statements) -> None:
            self._require_segments(s, {c.segment for c in changes})
            first = int(s.run("allocate_change_seqs", count=len(changes))[0]["first"])
            self._apply_members(s, changes)
            rows = [
                {
                    "seq": first + offset,
                    "segment": c.segment,
                    "profile_id": c.profile_id,
                    "kind": MembershipKind(c.kind).value,
                    "at": at,
                    "merged_into": c.merged_into,
                }
                for offset, c in enumerate(changes)
            ]
            s.batched("log_segment_changes", "rows", rows)

        self._write("apply_membership_changes", work)

    def segment_changes(self, name: str, after: int = 0, limit: int = 1000) -> list[SegmentChange]:
        rows = self._read(
            "segment_changes",
            lambda s: s.run("segment_changes", name=name, after=after, limit=limit),
        )
        return [_segment_change(row) for row in rows]

    def last_change_seq(self) -> int:
        rows = self._read("last_change_seq", lambda s: s.run("last_change_seq"))
        return int(rows[0]["seq"]) if rows else 0

    def iter_segment_changes(self, batch_size: int = 10_000) -> Iterator[SegmentChange]:
        pages = self._pages(
            "iter_segment_changes",
            statement("segment_changes_page"),
            0,
            _last("seq", int),
            batch_size,
        )
        for rows in pages:
            yield from (_segment_change(row) for row in rows)

    def import_segment_changes(self, changes: Sequence[SegmentChange]) -> None:
        if not changes:
            return
        ordered = sorted(changes, key=lambda c: c.seq)

        def work(s: _Statements) -> None:
            self._require_segments(s, {c.segment for c in changes})
            self._apply_members(s, ordered)
            rows = [
                {
                    "seq": c.seq,
                    "segment": c.segment,
                    "profile_id": c.profile_id,
                    "kind": MembershipKind(c.kind).value,
                    "at": c.at.isoformat(),
                    "merged_into": c.merged_into,
                }
                for c in changes
            ]
            s.batched("log_segment_changes", "rows", rows)
            s.run("advance_change_seq", last=ordered[-1].seq)

        self._write("import_segment_changes", work)
