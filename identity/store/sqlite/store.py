"""The embedded store: one SQLite file (standard library), WAL journal, versioned schema.

The schema lives in ``migrations/NNNN_*.sql`` files applied in order, each in one
transaction, the version kept in ``PRAGMA user_version``. The store composes one object
per area (records, profiles, ...) over one shared :class:`Connection`.
"""

from __future__ import annotations

import re
import sqlite3
import time
from contextlib import AbstractContextManager
from importlib import resources
from pathlib import Path

from identity import deadline
from identity.errors import ConfigError, StoreError, StoreUnavailable
from identity.model import StoreCounts, StoreHealth
from identity.store.base import Store
from identity.store.sqlite.audit import SQLiteAudit
from identity.store.sqlite.connection import Connection, is_busy
from identity.store.sqlite.copy import SQLiteCopy
from identity.store.sqlite.destinations import SQLiteDestinations
from identity.store.sqlite.events import SQLiteEvents
from identity.store.sqlite.households import SQLiteHouseholds
from identity.store.sqlite.links import SQLiteLinks
from identity.store.sqlite.matching import SQLiteMatchIndex
from identity.store.sqlite.privacy import SQLitePrivacy
from identity.store.sqlite.profile_view import SQLiteProfileViews
from identity.store.sqlite.profiles import SQLiteProfiles
from identity.store.sqlite.quality import SQLiteQuality
from identity.store.sqlite.records import SQLiteRecords
from identity.store.sqlite.segments import SQLiteSegments
from identity.store.sqlite.sources import SQLiteMeta, SQLiteSources
from identity.store.sqlite.statements import statement

DEFAULT_BUSY_TIMEOUT = 5.0
"""Seconds a write waits for the write lock before it fails with StoreBusy."""
DEFAULT_WRITE_QUEUE = 8
"""Writes of one process that may wait for the write lock at once."""
_OPEN_TIMEOUT = 30.0
"""Seconds opening (and migrating) waits for other processes opening the same file."""
_OPEN_RETRY_SECONDS = 0.02
"""Pause between tries to put a new file in WAL mode while another opener holds it."""

_BUDGET_STEPS = 10_000
"""Steps of SQLite's virtual machine between checks of the call's time budget (well under
a millisecond)."""
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """The packaged schema migrations as (version, file name, SQL), in version order."""
    found = []
    for entry in resources.files("identity.store.sqlite").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    for expected, (version, name, _) in enumerate(found, start=1):
        if version != expected:
            raise StoreError(f"schema migrations are not numbered 1..n: {name}")
    return found


def _write_ahead_log(raw: sqlite3.Connection, timeout: float) -> None:
    """Put the file in WAL mode, waiting up to ``timeout`` seconds for other connections
    opening it at the same time. Switching a new file's journal mode needs its exclusive
    lock, and SQLite refuses that at once ("database is locked") rather than through the
    busy handler when another connection holds a shared lock it wants to raise: so the
    workers of `idgraph serve` starting together on a new file failed now and then."""
    until = time.monotonic() + timeout
    while True:
        try:
            raw.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if not is_busy(error) or time.monotonic() >= until:
                raise
            time.sleep(_OPEN_RETRY_SECONDS)


class SQLiteStore(Store):
    """The identity graph in one SQLite file (or ``":memory:"`` for tests)."""

    backend = "sqlite"

    def __init__(
        self,
        path: Path | str,
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        write_queue: int = DEFAULT_WRITE_QUEUE,
    ) -> None:
        """``busy_timeout``: seconds a write waits for the write lock (another process's or
        another thread's) before it fails with StoreBusy; ``write_queue``: how many writes
        of this process may wait for it at once before another fails with StoreBusy."""
        if busy_timeout <= 0 or write_queue < 1:
            raise ConfigError("the busy timeout must be above 0 and the write queue at least 1")
        self.path = str(path)
        if self.path != ":memory:":
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreUnavailable(
                    f"cannot create the folder for the store {self.path}: {error.strerror}"
                ) from error
        try:
            # Opening and migrating may wait for other processes opening the same file.
            raw = sqlite3.connect(
                self.path,
                isolation_level=None,
                check_same_thread=False,
                timeout=max(busy_timeout, _OPEN_TIMEOUT),
            )
            _write_ahead_log(raw, max(busy_timeout, _OPEN_TIMEOUT))
        except sqlite3.Error as error:
            raise StoreUnavailable(f"cannot open the store {self.path}: {error}") from error
        raw.execute("PRAGMA synchronous = NORMAL")
        # A statement of a call whose time budget is spent stops (every ~10,000 steps of
        # SQLite's virtual machine, well under a millisecond).
        raw.set_progress_handler(deadline.expired, _BUDGET_STEPS)
        raw.execute("PRAGMA foreign_keys = ON")
        # What is deleted is overwritten with zeros, so an erased person's data is not left
        # in the file's free space (docs/privacy.md); deletes are rare, the cost small.
        raw.execute("PRAGMA secure_delete = ON")
        self._busy_timeout = busy_timeout
        try:
            self._db = db = Connection(
                raw,
                busy_timeout=busy_timeout,
                write_queue=write_queue,
                open_reader=None if self.path == ":memory:" else self._open_reader,
                writers_lock=None if self.path == ":memory:" else f"{self.path}-writers",
            )
        except StoreError:
            raw.close()
            raise
        self._migrate()
        raw.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        self.sources = SQLiteSources(db)
        self.meta = SQLiteMeta(db)
        self.records = SQLiteRecords(db)
        self.matching = SQLiteMatchIndex(db)
        self.links = SQLiteLinks(db)
        self.profiles = SQLiteProfiles(db)
        self.views = SQLiteProfileViews(db)
        self.events = SQLiteEvents(db)
        self.segments = SQLiteSegments(db)
        self.audit = SQLiteAudit(db)
        self.privacy = SQLitePrivacy(db)
        self.destinations = SQLiteDestinations(db)
        self.copy = SQLiteCopy(db)
        self.quality = SQLiteQuality(db)
        self.households = SQLiteHouseholds(db)

    def _open_reader(self) -> sqlite3.Connection:
        """One more connection to the file, for reads only (WAL: a snapshot, no waiting)."""
        reader = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=self._busy_timeout
        )
        reader.execute("PRAGMA query_only = ON")
        reader.set_progress_handler(deadline.expired, _BUDGET_STEPS)
        return reader

    def _migrate(self) -> None:
        known = migrations()
        raw = self._db.raw
        # One connection at a time, processes included: a migration is not idempotent
        # (0005 re-applied would succeed and set the version back), so each reads the
        # version only while no other can be applying one.
        with self._db.exclusive(_OPEN_TIMEOUT):
            current = raw.execute("PRAGMA user_version").fetchone()[0]
            if current > len(known):
                raise StoreError(
                    f"the store {self.path} has schema version {current}, newer than this "
                    f"idgraph knows ({len(known)}): upgrade idgraph"
                )
            for version, name, sql in known[current:]:
                try:
                    raw.executescript(
                        f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;"
                    )
                except sqlite3.Error as error:
                    if raw.in_transaction:
                        raw.execute("ROLLBACK")
                    if raw.execute("PRAGMA user_version").fetchone()[0] >= version:
                        continue  # another process opening the file applied it first
                    raise StoreError(f"schema migration {name} failed: {error}") from error

    @property
    def location(self) -> str | None:
        return None if self.path == ":memory:" else str(Path(self.path).resolve())

    @property
    def schema_version(self) -> int:
        with self._db.borrowed() as conn:
            version: int = conn.execute("PRAGMA user_version").fetchone()[0]
            return version

    def _write_block(self) -> AbstractContextManager[None]:
        return self._db.transaction("unit_of_work")

    def _read_block(self) -> AbstractContextManager[None]:
        return self._db.read_transaction()

    def statements_per_operation(self) -> dict[str, int]:
        return self._db.statements_per_operation()

    def close(self) -> None:
        self._db.close()

    def health(self) -> StoreHealth:
        try:
            # A reader: the probe does not wait for a write waiting for another process.
            with self._db.borrowed() as conn:
                conn.execute(statement("store", "health")).fetchone()
        except (sqlite3.Error, StoreError) as error:
            return StoreHealth(False, self.backend, f"{self.path}: {error}")
        return StoreHealth(True, self.backend, f"{self.path} (schema v{self.schema_version})")

    def counts(self) -> StoreCounts:
        with self._db.reading("counts") as conn:
            records, identifiers, profiles, links = conn.execute(
                statement("store", "counts")
            ).fetchone()
        return StoreCounts(records, identifiers, profiles, links)
