"""The SQLite connections every area of the store shares: the writer behind its lock, the
readers, the transaction depth and read-only flag of each thread's block, and the
statements counted per operation.

Writes go through one connection per process behind a re-entrant lock, held for a whole
write transaction (``BEGIN IMMEDIATE``). Across processes a lock on a file beside the store
(``PATH-writers``, :class:`WritersLock`) and then SQLite's own write lock serialise them; a
write waits for these locks at most ``busy_timeout`` seconds in all, and at most
``write_queue`` writes of a process wait at once: past either, it fails fast with
:class:`~identity.errors.StoreBusy` and nothing of it is stored.

Reads outside a write block use a pool of read-only connections of their own (one per
thread reading at the same time, kept for reuse): in WAL mode each reads a consistent
snapshot and never waits for a writer, so reads of a process do not queue behind a write
that waits for another process's lock. An in-memory store (``":memory:"``) is one
database per connection: there every read shares the writer and its lock.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from identity import deadline
from identity.errors import IdgraphError, StoreBusy, StoreError, StoreUnavailable
from identity.store.changes import keyset_pages

try:
    import fcntl
except ImportError:  # Windows has none: SQLite's busy handler alone serialises processes
    fcntl = None  # type: ignore[assignment]

_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def is_busy(error: sqlite3.Error) -> bool:
    """Whether SQLite refused for a lock another connection holds ("database is locked")."""
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _BUSY_CODES


class CountingConnection:
    """A connection as a read block sees it: each statement is counted, and its cursors
    are closed when the block ends (so no unfinished statement keeps a pooled reader on
    an old snapshot)."""

    def __init__(self, db: Connection, raw: sqlite3.Connection) -> None:
        self._db = db
        self._raw = raw
        self._cursors: list[sqlite3.Cursor] = []

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        self._db.count_statement()
        cursor = self._raw.execute(sql, params)
        self._cursors.append(cursor)
        return cursor

    def close(self) -> None:
        for cursor in self._cursors:
            cursor.close()
        self._cursors.clear()


class WritersLock:
    """A lock on a file beside the store that the writes of every process take before
    SQLite's own: a process waiting for it polls every half millisecond, where SQLite's busy
    handler sleeps up to 100 ms between tries, so writes from several processes take turns
    promptly instead of one process's writes starving another's."""

    POLL = 0.0005

    def __init__(self, path: str) -> None:
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise StoreUnavailable(f"cannot open the lock file {path}: {error.strerror}") from error

    def acquire(self, until: float) -> bool | None:
        """Whether it had to wait for the lock; None when ``until`` (monotonic) passed first."""
        assert fcntl is not None
        waited = False
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return waited
            except BlockingIOError:
                if time.monotonic() >= until:
                    return None
                waited = True
                time.sleep(self.POLL)

    def release(self) -> None:
        assert fcntl is not None
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


class _ThreadState(threading.local):
    """What one thread is inside of: a write block (on the writer), a reading block (on
    ``reader``), and the operation its statements count under."""

    def __init__(self) -> None:
        self.write_depth = 0
        self.read_depth = 0
        self.reader: sqlite3.Connection | None = None
        self.operation = "other"


class Connection:
    """The store's connections and transaction state. Operations are named
    ``<area>.<method>`` (``records.upsert``), as the Neo4j store names them.

    ``open_reader`` opens one more read connection to the same database; without it
    (an in-memory store) reads share the writer under its lock."""

    def __init__(
        self,
        raw: sqlite3.Connection,
        *,
        busy_timeout: float = 5.0,
        write_queue: int = 8,
        open_reader: Callable[[], sqlite3.Connection] | None = None,
        writers_lock: str | None = None,
    ) -> None:
        self.raw = raw
        self._writers = WritersLock(writers_lock) if writers_lock and fcntl else None
        self.lock = threading.RLock()
        self.busy_timeout = busy_timeout
        self.write_queue = write_queue
        self._open_reader = open_reader
        self._thread = _ThreadState()
        # Guards the counts, the waiting writes and the reader pool.
        self._guard = threading.Lock()
        self._waiting = 0  # writes of this process waiting for the write locks
        self._idle: list[sqlite3.Connection] = []  # readers not in use
        self._closed = False
        self._statement_counts: Counter[str] = Counter()

    @property
    def retry_after(self) -> int:
        """Seconds a refused write should wait before it is sent again."""
        return max(1, math.ceil(self.busy_timeout))

    def count_statement(self) -> None:
        """Count a statement about to start; none starts once the call's time budget is
        spent (a running one is stopped by the progress handler)."""
        deadline.check()
        with self._guard:
            self._statement_counts[self._thread.operation] += 1

    def statements_per_operation(self) -> dict[str, int]:
        with self._guard:
            return dict(self._statement_counts)

    @contextmanager
    def borrowed(self) -> Iterator[sqlite3.Connection]:
        """A connection to read with for the block: a pooled reader, or the writer under
        its lock when there are no readers (an in-memory store)."""
        if self._open_reader is None:
            with self.lock:
                yield self.raw
            return
        with self._guard:
            if self._closed:
                raise StoreError("the store is closed")
            reader = self._idle.pop() if self._idle else None
        if reader is None:
            try:
                reader = self._open_reader()
            except sqlite3.Error as error:
                raise self._failure("read", error) from error
        try:
            yield reader
        finally:
            if reader.in_transaction:
                reader.execute("ROLLBACK")
            with self._guard:
                if self._closed:
                    reader.close()
                else:
                    self._idle.append(reader)

    def _failure(self, what: str, error: sqlite3.Error) -> IdgraphError:
        if isinstance(error, sqlite3.OperationalError) and deadline.expired():
            # The progress handler ended it: the call's time budget is spent.
            return deadline.exceeded()
        if is_busy(error):
            return StoreBusy(
                f"waited {self.busy_timeout:g}s for another connection's lock",
                retry_after=self.retry_after,
            )
        return StoreError(f"store {what} failed: {error}")

    @contextmanager
    def read_transaction(self) -> Iterator[None]:
        state = self._thread
        if state.write_depth > 0 or state.read_depth > 0:
            yield  # inside a unit of work or another reading block: join it
            return
        with self.borrowed() as reader:
            try:
                reader.execute("BEGIN")
            except sqlite3.Error as error:
                raise self._failure("read", error) from error
            state.read_depth = 1
            state.reader = reader
            try:
                yield
            finally:
                state.read_depth = 0
                state.reader = None
                if reader.in_transaction:
                    reader.execute("COMMIT")

    @contextmanager
    def operating(self, operation: str) -> Iterator[None]:
        """Counts the statements of the block (on this thread) under ``operation``."""
        state = self._thread
        outer = state.operation
        state.operation = operation
        try:
            yield
        finally:
            state.operation = outer

    @contextmanager
    def _write_begun(self) -> Iterator[None]:
        """This process's write lock, then SQLite's (``BEGIN IMMEDIATE``), both waited for
        at most ``busy_timeout`` seconds in all, by at most ``write_queue`` writes at once:
        past either, StoreBusy. The transaction is left for the caller to end."""
        with self._guard:
            if self._waiting >= self.write_queue:
                raise StoreBusy(
                    f"{self._waiting} writes of this process already wait for it",
                    retry_after=self.retry_after,
                )
            self._waiting += 1
        try:
            until = time.monotonic() + self.busy_timeout
            waited = not self.lock.acquire(blocking=False)
            if waited and not self.lock.acquire(timeout=self.busy_timeout):
                raise StoreBusy(
                    f"waited {self.busy_timeout:g}s for another write of this process",
                    retry_after=self.retry_after,
                )
            try:
                if self._writers is not None:
                    got = self._writers.acquire(until)
                    if got is None:
                        raise StoreBusy(
                            f"waited {self.busy_timeout:g}s for another process's write",
                            retry_after=self.retry_after,
                        )
                    waited = waited or got
                try:
                    if waited:  # SQLite may wait only for what is left of the timeout
                        self._sqlite_waits(until - time.monotonic())
                    try:
                        self.control("BEGIN IMMEDIATE")
                    finally:
                        if waited:
                            self._sqlite_waits(self.busy_timeout)
                except BaseException:
                    if self._writers is not None:
                        self._writers.release()
                    raise
            except BaseException:
                self.lock.release()
                raise
        finally:
            with self._guard:
                self._waiting -= 1
        try:
            yield
        finally:
            if self._writers is not None:
                self._writers.release()
            self.lock.release()

    def _sqlite_waits(self, seconds: float) -> None:
        """How long SQLite waits for another connection's lock, from now on."""
        self.raw.execute(f"PRAGMA busy_timeout = {max(1, int(seconds * 1000))}")

    @contextmanager
    def transaction(self, operation: str) -> Iterator[None]:
        """A write block counted under ``operation``; nested blocks join the outer one."""
        state = self._thread
        with self.operating(operation):
            if state.read_depth > 0:
                raise StoreError(f"{operation}: cannot write inside a reading block")
            if state.write_depth > 0:
                state.write_depth += 1
                try:
                    yield
                finally:
                    state.write_depth -= 1
                return
            with self._write_begun():
                state.write_depth = 1
                try:
                    yield
                except BaseException:
                    state.write_depth = 0
                    if self.raw.in_transaction:
                        self.raw.execute("ROLLBACK")
                    raise
                state.write_depth = 0
                try:
                    self.control("COMMIT")
                except StoreError:
                    if self.raw.in_transaction:
                        self.raw.execute("ROLLBACK")
                    raise

    @contextmanager
    def exclusive(self, seconds: float) -> Iterator[None]:
        """This process's write lock and every process's lock file, no transaction: what
        migrating a new file needs, so each connection reads the schema version only once
        no other is changing it (waits at most ``seconds``, then StoreBusy)."""
        until = time.monotonic() + seconds
        if not self.lock.acquire(timeout=seconds):
            raise StoreBusy(f"waited {seconds:g}s for another write of this process")
        try:
            if self._writers is not None and self._writers.acquire(until) is None:
                raise StoreBusy(f"waited {seconds:g}s for another process opening the store")
            try:
                yield
            finally:
                if self._writers is not None:
                    self._writers.release()
        finally:
            self.lock.release()

    def checkpoint(self) -> bool:
        """Copy the write-ahead log into the database file and truncate it, between writes
        (this process's and other processes' write locks held, no transaction open): what
        a deletion overwrote then survives in neither file. False when a reader of another
        process kept it from finishing (the next checkpoint finishes it)."""
        if self.raw.in_transaction:
            raise StoreError("checkpoint: cannot run inside a write block")
        with self.operating("checkpoint"), self.exclusive(self.busy_timeout):
            try:
                busy, _, _ = self.raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.Error as error:
                raise self._failure("write", error) from error
        return not busy

    @contextmanager
    def reading(self, operation: str) -> Iterator[CountingConnection]:
        """Reads counted under ``operation``, on this thread's write or reading block's
        connection, else a borrowed reader; a database error becomes a StoreError."""
        state = self._thread
        with self.operating(operation), ExitStack() as stack:
            try:
                if state.write_depth > 0:
                    raw = self.raw
                elif state.reader is not None:
                    raw = state.reader
                else:
                    raw = stack.enter_context(self.borrowed())
                counting = CountingConnection(self, raw)
                stack.callback(counting.close)
                yield counting
            except sqlite3.Error as error:
                raise self._failure("read", error) from error

    def control(self, sql: str) -> None:
        # Transaction control is not a statement of any operation: not counted.
        try:
            self.raw.execute(sql)
        except sqlite3.Error as error:
            raise self._failure("write", error) from error

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        self.count_statement()
        try:
            return self.raw.execute(sql, params)
        except sqlite3.Error as error:
            raise self._failure("write", error) from error

    def executemany(self, sql: str, rows: Sequence[Any]) -> None:
        if not rows:
            return
        # One statement however many rows: SQLite runs the batch in process.
        self.count_statement()
        try:
            self.raw.executemany(sql, rows)
        except sqlite3.Error as error:
            raise self._failure("write", error) from error

    def close(self) -> None:
        """Close the writer and every reader (a reader in use closes when returned); again
        does nothing."""
        with self.lock:
            with self._guard:
                if self._closed:
                    return
                self._closed = True
                idle, self._idle = self._idle, []
            for reader in idle:
                reader.close()
            self.raw.close()
            if self._writers is not None:
                self._writers.close()

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
