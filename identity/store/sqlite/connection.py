"""The one SQLite connection every area of the store shares: its lock, the transaction
depth, the read-only flag of a reading block, and the statements counted per operation.

One connection is shared by all threads of a process behind a re-entrant lock: the HTTP
service's worker threads read between (not during) ingest batches. That is the embedded
store's trade-off; the Neo4j store serves concurrent readers.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from identity import deadline
from identity.errors import StoreError
from identity.store.changes import keyset_pages


def store_error(error: sqlite3.Error, what: str) -> Exception:
    """The error to raise for a failed statement: a statement the progress handler ended
    because the call's time budget was spent is that, not a store failure."""
    if isinstance(error, sqlite3.OperationalError) and deadline.expired():
        return deadline.exceeded()
    return StoreError(f"{what}: {error}")


class CountingConnection:
    """The shared connection as a read block sees it: each statement is counted."""

    def __init__(self, db: Connection) -> None:
        self._db = db

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        self._db.start_statement()
        return self._db.raw.execute(sql, params)


class Connection:
    """The store's connection and transaction state. Operations are named
    ``<area>.<method>`` (``records.upsert``), as the Neo4j store names them."""

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw
        self.lock = threading.RLock()
        self._depth = 0
        self._read_only = False  # inside a reading block (then _depth > 0 too)
        # Statements per operation (the metric); both guarded by self.lock, which every
        # statement holds.
        self._statement_counts: Counter[str] = Counter()
        self._operation = "other"

    def start_statement(self) -> None:
        """Count a statement; none starts once the call's time budget is spent (a running
        one is stopped by the progress handler)."""
        deadline.check()
        self._statement_counts[self._operation] += 1

    def statements_per_operation(self) -> dict[str, int]:
        with self.lock:
            return dict(self._statement_counts)

    @contextmanager
    def read_transaction(self) -> Iterator[None]:
        # The lock is held for the whole block, as it is for every statement anyway: one
        # connection serves all threads of the process.
        with self.lock:
            if self._depth > 0:  # inside a unit of work or another reading block: join it
                yield
                return
            self.control("BEGIN")
            self._depth += 1
            self._read_only = True
            try:
                yield
            finally:
                self._depth -= 1
                self._read_only = False
                if self.raw.in_transaction:
                    self.raw.execute("COMMIT")

    @contextmanager
    def operating(self, operation: str) -> Iterator[None]:
        """Counts the statements of the block under ``operation``."""
        with self.lock:
            outer = self._operation
            self._operation = operation
            try:
                yield
            finally:
                self._operation = outer

    @contextmanager
    def transaction(self, operation: str) -> Iterator[None]:
        """A write block counted under ``operation``; nested blocks join the outer one."""
        with self.operating(operation):
            if self._read_only:
                raise StoreError(f"{self._operation}: cannot write inside a reading block")
            outer = self._depth == 0
            if outer:
                self.control("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer and self.raw.in_transaction:
                    self.raw.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                try:
                    self.control("COMMIT")
                except StoreError:
                    if self.raw.in_transaction:
                        self.raw.execute("ROLLBACK")
                    raise

    @contextmanager
    def reading(self, operation: str) -> Iterator[CountingConnection]:
        """Reads counted under ``operation``; a database error becomes a StoreError."""
        with self.operating(operation):
            try:
                yield CountingConnection(self)
            except sqlite3.Error as error:
                raise store_error(error, "store read failed") from error

    def control(self, sql: str) -> None:
        # Transaction control is not a statement of any operation: not counted.
        try:
            self.raw.execute(sql)
        except sqlite3.Error as error:
            raise store_error(error, "store write failed") from error

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        self.start_statement()
        try:
            return self.raw.execute(sql, params)
        except sqlite3.Error as error:
            raise store_error(error, "store write failed") from error

    def executemany(self, sql: str, rows: Sequence[Any]) -> None:
        if not rows:
            return
        # One statement however many rows: SQLite runs the batch in process.
        self.start_statement()
        try:
            self.raw.executemany(sql, rows)
        except sqlite3.Error as error:
            raise store_error(error, "store write failed") from error

    def total_changes(self) -> int:
        return self.raw.total_changes

    def pages(
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
        ``operation``, the method paging."""
        size = len(start)

        def fetch(after: tuple[Any, ...]) -> list[tuple[Any, ...]]:
            with self.reading(operation) as conn:
                return conn.execute(sql, (*after, batch_size)).fetchall()

        return keyset_pages(
            fetch, lambda row: tuple(row[:size]), start, batch_size, until_empty=until_empty
        )
