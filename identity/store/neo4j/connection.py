"""The one connection every area of the Neo4j store shares: the driver, the transactions,
the batched statement runner, statement counting and the mapping of driver errors.

Each store operation is one managed transaction (``execute_read`` / ``execute_write``, so the
driver retries transient failures and lost leaders) holding a fixed number of statements
per batch: rows travel as one ``$rows`` list unpacked by ``UNWIND``, never one statement
per row. :attr:`Neo4jConnection.statement_counts` counts the statements each operation
(``<area>.<method>``, e.g. ``records.upsert``) sent, so a regression to per-row statements
shows. Inside an explicit transaction (:meth:`Neo4jConnection.explicit_transaction`, behind
the store's ``unit_of_work`` and ``reading``) every call of the same thread joins it; it is
not retried, as the block's own code cannot be replayed.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, LiteralString, TypeVar

import neo4j
from neo4j import exceptions as neo4j_errors

from identity import deadline
from identity.errors import ConfigError, IdgraphError, StoreError, StoreUnavailable
from identity.model import IdentifierKey
from identity.store.changes import keyset_pages, unique_keys
from identity.store.neo4j.cypher import statement

DEFAULT_BATCH_SIZE = 10_000
_CLOSE_WAIT = 30.0
"""Seconds :meth:`Neo4jConnection.close` waits for statements under way."""
"""Rows per ``UNWIND`` statement: big enough that 10k records are a handful of statements,
small enough to keep each statement's parameters to a few megabytes."""

T = TypeVar("T")
Row = neo4j.Record


def identifier_keys(keys: Collection[IdentifierKey]) -> list[dict[str, str]]:
    """Identifier keys as statement rows, each once."""
    return [{"kind": k, "value": v} for k, v in unique_keys(keys)]


def last(field: str, kind: Callable[[Any], T]) -> Callable[[Row], T]:
    """A page's key: one field of its last row."""
    return lambda row: kind(row[field])


def query(text: str) -> LiteralString:
    # Statement texts come from the packaged .cypher files, never from input: values
    # only ever travel as parameters.
    return text


class Statements:
    """Runs named statements in one transaction, counting each under its operation."""

    def __init__(
        self,
        tx: neo4j.ManagedTransaction | neo4j.Transaction,
        db: Neo4jConnection,
        operation: str,
    ) -> None:
        self._tx = tx
        self._db = db
        self._operation = operation

    def run(self, name: str, /, **params: Any) -> list[Row]:
        return self.run_text(statement(name), params)

    def run_text(self, text: str, params: dict[str, Any] | None = None) -> list[Row]:
        self._db.count(self._operation)
        return list(self._tx.run(query(text), params))

    def batched(self, name: str, key: str, rows: Sequence[Any], **params: Any) -> list[Row]:
        """The statement once per batch of ``rows`` (passed as ``$key``); none for no rows."""
        size = self._db.batch_size
        found: list[Row] = []
        for start in range(0, len(rows), size):
            found.extend(self.run(name, **{key: list(rows[start : start + size])}, **params))
        return found


class Neo4jConnection:
    """A driver for one Neo4j database, with this thread's explicit transaction if any."""

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
        self.database = database or None
        self.batch_size = batch_size
        self.statement_counts: Counter[str] = Counter()
        """Statements sent per store operation since the store was opened (a metric)."""
        self._counts_lock = threading.Lock()
        self._local = threading.local()
        self._idle = threading.Condition()
        self._active = 0
        """Statements (or explicit transactions) under way, which :meth:`close` waits for."""
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
            self._driver.verify_connectivity()
        except (neo4j_errors.Neo4jError, neo4j_errors.DriverError) as error:
            self._driver.close()
            raise self.error(error, "connect") from error

    @property
    def where(self) -> str:
        return f"{self.uri} (database {self.database or 'default'})"

    def close(self) -> None:
        # A request can be answered before a thread it started ends (GraphQL answers as
        # soon as one non-null field fails, while a sibling's store call still runs in the
        # thread pool): closing the driver under that call broke its connection. Such work
        # ends within its time budget; wait for it, up to _CLOSE_WAIT seconds.
        with self._idle:
            self._idle.wait_for(lambda: self._active == 0, timeout=_CLOSE_WAIT)
        self._driver.close()

    @contextmanager
    def _in_use(self) -> Iterator[None]:
        with self._idle:
            self._active += 1
        try:
            yield
        finally:
            with self._idle:
                self._active -= 1
                if self._active == 0:
                    self._idle.notify_all()

    def count(self, operation: str) -> None:
        with self._counts_lock:
            self.statement_counts[operation] += 1

    def statements_per_operation(self) -> dict[str, int]:
        with self._counts_lock:
            return dict(self.statement_counts)

    @property
    def read_only(self) -> bool:
        """Whether this thread is inside a reading block."""
        return bool(getattr(self._local, "read_only", False))

    def pages(
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
            return self.read(operation, lambda s: s.run_text(text, {**params, "limit": batch_size}))

        return keyset_pages(fetch, key_of, start, batch_size)

    def session(self, access: str = neo4j.WRITE_ACCESS) -> neo4j.Session:
        # The driver's shared bookmark manager makes each session see the writes of the
        # sessions before it, also on a cluster.
        return self._driver.session(
            database=self.database,
            bookmark_manager=self._driver.execute_query_bookmark_manager,
            default_access_mode=access,
        )

    def error(self, error: Exception, operation: str) -> IdgraphError:
        """A service error for a driver error; never the server's message, which can quote
        the values (e-mails, phones) a statement carried."""
        if (
            isinstance(error, neo4j_errors.Neo4jError)
            and "TransactionTimedOut" in (error.code or "")
            and deadline.remaining() is not None
        ):
            return deadline.exceeded()  # the server ended it at the call's time budget
        if isinstance(error, neo4j_errors.AuthError):
            return StoreUnavailable(
                f"Neo4j at {self.where} refused the credentials: check IDGRAPH_NEO4J_USER "
                "and IDGRAPH_NEO4J_PASSWORD"
            )
        if isinstance(error, neo4j_errors.ServiceUnavailable | neo4j_errors.SessionExpired):
            return StoreUnavailable(f"Neo4j at {self.where} is unavailable: {error}")
        if isinstance(error, neo4j_errors.Neo4jError):
            code = error.code or "unknown"
            if code.endswith("DatabaseNotFound") or isinstance(
                error, neo4j_errors.DatabaseUnavailable
            ):
                return StoreUnavailable(f"Neo4j at {self.where}: the database is not available")
            if isinstance(error, neo4j_errors.ConstraintError):
                return StoreError(f"{operation}: a Neo4j constraint refused the write ({code})")
            return StoreError(f"{operation} failed in Neo4j ({code})")
        return StoreError(f"{operation} failed: {type(error).__name__}")

    def _work(self, operation: str, work: Callable[[Statements], T], *, write: bool) -> T:
        tx: neo4j.Transaction | None = getattr(self._local, "tx", None)
        if write and self.read_only:
            raise StoreError(f"{operation}: cannot write inside a reading block")
        try:
            if tx is not None:
                return work(Statements(tx, self, operation))
            with self._in_use(), self.session() as session:

                @neo4j.unit_of_work(timeout=_time_left())
                def unit(managed: neo4j.ManagedTransaction) -> T:
                    return work(Statements(managed, self, operation))

                if write:
                    return session.execute_write(unit)
                return session.execute_read(unit)
        except (neo4j_errors.Neo4jError, neo4j_errors.DriverError) as error:
            raise self.error(error, operation) from error

    def read(self, operation: str, work: Callable[[Statements], T]) -> T:
        """``work`` in a read transaction (this thread's explicit one, if any)."""
        return self._work(operation, work, write=False)

    def write(self, operation: str, work: Callable[[Statements], T]) -> T:
        """``work`` in a write transaction (this thread's explicit one, if any)."""
        return self._work(operation, work, write=True)

    def run_auto_commit(self, operation: str, text: str) -> None:
        """One statement's ``text`` in its own auto-commit transaction, as
        ``CALL ... IN TRANSACTIONS`` needs: outside any explicit transaction, not retried."""
        self.count(operation)
        try:
            with self._in_use(), self.session() as session:
                session.run(query(text)).consume()
        except (neo4j_errors.Neo4jError, neo4j_errors.DriverError) as error:
            raise self.error(error, operation) from error

    @contextmanager
    def explicit_transaction(self, operation: str, access: str) -> Iterator[None]:
        """One explicit transaction that every call of this thread joins until the block
        ends; committed at the end, rolled back on any error. Not retried: the block's
        own code cannot be replayed."""
        if getattr(self._local, "tx", None) is not None:
            yield  # joins the outer block
            return
        with self._in_use():
            yield from self._explicit(operation, access)

    def _explicit(self, operation: str, access: str) -> Iterator[None]:
        try:
            session = self.session(access)
            tx = session.begin_transaction(timeout=_time_left())
        except (neo4j_errors.Neo4jError, neo4j_errors.DriverError) as error:
            raise self.error(error, operation) from error
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
            raise self.error(error, operation) from error
        finally:
            session.close()


def _time_left() -> float | None:
    """The transaction timeout the call's time budget leaves (None: the server's)."""
    left = deadline.remaining()
    if left is None:
        return None
    if left <= 0:
        raise deadline.exceeded()
    return left


class Area:
    """One area of the store (records, profiles, ...) over the shared connection."""

    def __init__(self, db: Neo4jConnection) -> None:
        self._db = db
