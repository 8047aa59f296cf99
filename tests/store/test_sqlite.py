"""What only the embedded store does: its file, its schema versions, its URL, its threads."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from identity import deadline
from identity.errors import (
    ConfigError,
    StoreBusy,
    StoreError,
    StoreUnavailable,
    TimeBudgetExceeded,
)
from identity.model import LinkType, ProfileChanges, SourceRecord
from identity.store.factory import open_store
from identity.store.sqlite import SQLiteStore, migrations
from identity.store.sqlite.statements import available, parse, statement

# The embedded store alone: `-m sqlite` selects these with the SQLite legs of the suite.
pytestmark = pytest.mark.sqlite

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@contextmanager
def _migrated_to(path: Path, count: int) -> Iterator[sqlite3.Connection]:
    """A store file of the first ``count`` migrations (a store an older release made), open
    for the test to add rows as that release would have."""
    with sqlite3.connect(path) as conn:
        for version, _, sql in migrations()[:count]:
            conn.executescript(sql)
            conn.execute(f"PRAGMA user_version = {version}")
        yield conn


def test_the_store_is_one_file_that_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "folder" / "idgraph.db"
    store = SQLiteStore(path)
    (write,) = store.records.upsert([SourceRecord("crm", "c1")], NOW)
    store.profiles.apply(ProfileChanges(created=["p1"], assignments={write.record_id: "p1"}), NOW)
    store.close()
    assert path.exists()
    reopened = SQLiteStore(path)
    assert reopened.profiles.ids_of([write.record_id]) == {write.record_id: "p1"}
    reopened.close()


def test_new_files_are_migrated_to_the_latest_schema_in_wal_mode(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    assert store.schema_version == len(migrations()) >= 1
    store.close()
    with sqlite3.connect(tmp_path / "s.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    assert {"records", "record_identifiers", "links", "profiles", "sources", "meta"} <= tables


def test_upgrading_a_version_2_store_keeps_its_documents(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with _migrated_to(path, 2) as conn:
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [("match_model", json.dumps({"big": "x" * 100_000})), ("stamp", '{"id": "a"}')],
        )
    store = SQLiteStore(path)
    assert store.schema_version == len(migrations())
    assert store.meta.get("stamp") == {"id": "a"}
    assert store.meta.get("match_model") == {"big": "x" * 100_000}
    store.meta.set("stamp", {"id": "b"})
    assert store.meta.get("stamp") == {"id": "b"}
    # It held no profile: its new (empty) profile read model is complete.
    assert store.meta.names() == ["match_model", "profile_view", "stamp"]
    assert store.meta.get("profile_view") == "new"
    store.close()


def test_upgrading_a_store_with_profiles_leaves_its_read_model_stale(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with _migrated_to(path, 6) as conn:
        conn.execute(
            "INSERT INTO profiles (id, status, created_at, updated_at) "
            "VALUES ('p_1', 'live', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')"
        )
    store = SQLiteStore(path)
    # No marker: reads recompute until `idgraph profiles rebuild` fills the view.
    assert store.meta.get("profile_view") is None
    assert list(store.views.scan_ids()) == []
    store.close()


def test_upgrading_a_version_8_store_keeps_its_destinations_running(tmp_path: Path) -> None:
    """Migration 0009 adds a destination's stop and snapshot time: an existing one reads
    as running, with no snapshot time, and can be stopped."""
    path = tmp_path / "s.db"
    with _migrated_to(path, 8) as conn:
        conn.execute(
            "INSERT INTO destinations (name, segment, kind, config, paused, created_at, "
            "created_by) VALUES ('hook', 'named', 'webhook', '{}', 0, "
            "'2026-01-01T00:00:00+00:00', 'cli:ann')"
        )
        conn.execute("INSERT INTO destination_state (name, cursor_seq) VALUES ('hook', 7)")
    store = SQLiteStore(path)
    assert store.schema_version == len(migrations()) >= 9
    state = store.destinations.states(["hook"])["hook"]
    assert (state.cursor_seq, state.stopped, state.stopped_at, state.snapshot_at) == (
        7,
        None,
        None,
        None,
    )
    assert store.destinations.stop_following("named", "segment_removed", NOW) == ["hook"]
    assert store.destinations.states(["hook"])["hook"].stopped == "segment_removed"
    store.close()


def test_upgrading_a_version_9_store_pages_its_review_queue_by_weight_from_an_index(
    tmp_path: Path,
) -> None:
    """Migration 0010 indexes links by (type, weight): the queue by probability reads a
    page from the index in its order instead of sorting every review link."""
    path = tmp_path / "s.db"
    with _migrated_to(path, 9) as conn:
        conn.executemany(
            "INSERT INTO links (a, b, type, matcher, weight, evidence) "
            "VALUES (?, ?, ?, ?, ?, '{}')",
            [(1, 2, "review", "p", 0.6), (1, 3, "review", "p", 0.9), (2, 3, "match", "p", 1.0)],
        )
    store = SQLiteStore(path)
    assert store.schema_version == len(migrations()) >= 10
    found = store.links.of_type_by_weight(LinkType.REVIEW, limit=5)
    assert [(x.a, x.b, x.weight) for x in found] == [(1, 3, 0.9), (1, 2, 0.6)]
    store.close()
    with sqlite3.connect(path) as conn:
        plan = " ".join(
            row[-1]
            for row in conn.execute(
                "EXPLAIN QUERY PLAN " + statement("links", "links_of_type_by_weight"),
                {"type": "review", "weight": 0.9, "a": 1, "b": 3, "without": "[]", "limit": 5},
            )
        )
    assert "links_by_type_weight" in plan and "TEMP B-TREE" not in plan, plan


def test_a_store_from_a_newer_idgraph_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SQLiteStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {len(migrations()) + 1}")
    with pytest.raises(StoreError, match="newer than this idgraph"):
        SQLiteStore(path)


def test_an_unusable_path_is_reported_as_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreUnavailable, match="cannot"):
        SQLiteStore(blocker / "idgraph.db")


def test_a_file_that_is_not_a_database_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError):
        SQLiteStore(path)


def test_store_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = open_store("sqlite:///data/x.db")
    assert isinstance(relative, SQLiteStore) and (tmp_path / "data" / "x.db").exists()
    relative.close()
    absolute = open_store(f"sqlite:///{tmp_path}/abs.db")
    assert (tmp_path / "abs.db").exists()
    absolute.close()
    open_store("sqlite:///:memory:").close()
    with pytest.raises(ConfigError, match="needs a path"):
        open_store("sqlite://")
    with pytest.raises(ConfigError, match="unknown store URL scheme"):
        open_store("postgres://db/x")


def test_threads_can_read_while_another_writes(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for batch in range(20):
                records = [SourceRecord("crm", f"{batch}-{i}") for i in range(200)]
                with store.unit_of_work():
                    store.records.upsert(records, NOW)
        except BaseException as error:
            errors.append(error)

    def read() -> None:
        try:
            for _ in range(200):
                counts = store.counts()
                assert counts.records % 200 == 0  # never half a batch
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write), *(threading.Thread(target=read) for _ in range(3))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.counts().records == 4000
    store.close()


def test_every_named_statement_compiles_against_the_latest_schema(tmp_path: Path) -> None:
    SQLiteStore(tmp_path / "s.db").close()
    areas = available()
    assert {"records", "profiles", "copy"} <= set(areas)
    with sqlite3.connect(tmp_path / "s.db") as conn:
        for area, names in areas.items():
            for name in names:
                sql = statement(area, name).format(table="records", columns="")
                named = {param: None for param in re.findall(r":([a-z_]+)", sql)}
                params = named or (None,) * sql.count("?")
                conn.execute(f"EXPLAIN {sql}", params)  # prepared, not run


def test_an_unknown_statement_is_refused_naming_the_file_and_what_it_holds() -> None:
    with pytest.raises(StoreError, match=r"queries/records\.sql has no statement named 'nope'"):
        statement("records", "nope")
    with pytest.raises(StoreError, match=r"queries/nowhere\.sql is not installed"):
        statement("nowhere", "records_by_id")


def test_a_statement_file_is_read_by_name_lines_and_comments_are_dropped() -> None:
    text = "-- the area\n\n-- name: one\n-- why\nSELECT 1\n  FROM t;\n\n-- name: two\nSELECT 2;\n"
    assert parse("x", text) == {"one": "SELECT 1\n  FROM t", "two": "SELECT 2"}
    with pytest.raises(StoreError, match="twice"):
        parse("x", "-- name: one\nSELECT 1;\n-- name: one\nSELECT 2;\n")


def test_a_statement_running_past_the_time_budget_is_stopped_midway(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    store.records.upsert([SourceRecord("crm", f"c{i}") for i in range(30_000)], NOW)
    started = time.perf_counter()
    list(store.records.scan(batch_size=30_000))  # one statement
    whole = time.perf_counter() - started
    budget = whole / 20
    with deadline.within(budget):
        started = time.perf_counter()
        with pytest.raises(TimeBudgetExceeded):
            list(store.records.scan(batch_size=30_000))
        stopped = time.perf_counter() - started
    # It started within the budget (no statement starts after it) and was ended in it.
    assert stopped < whole / 2, (stopped, whole)
    assert len(list(store.records.scan(batch_size=30_000))) == 30_000
    store.close()


@contextmanager
def write_open(store: SQLiteStore, key: str) -> Iterator[threading.Event]:
    """A unit of work of ``store`` that has written ``key`` and stays open in another thread
    until the block ends or the event given is set."""
    holding, release = threading.Event(), threading.Event()

    def long_write() -> None:
        with store.unit_of_work():
            store.records.upsert([SourceRecord("crm", key)], NOW)
            holding.set()
            release.wait(5)

    writer = threading.Thread(target=long_write)
    writer.start()
    try:
        assert holding.wait(5)
        yield release
    finally:
        release.set()
        writer.join()


@contextmanager
def write_locked(path: Path) -> Iterator[sqlite3.Connection]:
    """The file's write lock held by another connection, as another process would hold it."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield other
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()


def test_a_write_that_cannot_get_the_lock_in_time_fails_with_store_busy(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db", busy_timeout=0.3)
    with write_locked(tmp_path / "s.db"):
        started = time.monotonic()
        with pytest.raises(StoreBusy) as refused, store.unit_of_work():
            store.records.upsert([SourceRecord("crm", "c1")], NOW)
        waited = time.monotonic() - started
        assert store.counts().records == 0  # nothing half-written, and reads still answer
    assert 0.25 <= waited < 3
    assert refused.value.retry_after == 1
    assert "locked" not in str(refused.value) and "was not stored" in str(refused.value)
    # Once the lock is free the same write goes through.
    store.records.upsert([SourceRecord("crm", "c1")], NOW)
    assert store.counts().records == 1
    store.close()


def test_the_retry_after_hint_is_the_busy_timeout_rounded_up(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db", busy_timeout=1.2)
    with write_locked(tmp_path / "s.db"), pytest.raises(StoreBusy) as refused:
        store.records.upsert([SourceRecord("crm", "c1")], NOW)
    assert refused.value.retry_after == 2
    store.close()


def test_reads_do_not_wait_for_a_write_waiting_for_another_process(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db", busy_timeout=3)
    store.records.upsert([SourceRecord("crm", "c0")], NOW)
    outcome: list[BaseException | None] = []

    def write() -> None:
        try:
            store.records.upsert([SourceRecord("crm", "c1")], NOW)
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    with write_locked(tmp_path / "s.db"):
        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(0.3)  # the write now waits for the file's lock
        started = time.monotonic()
        for _ in range(20):
            assert store.counts().records == 1
            with store.reading():
                assert store.counts().records == 1
            assert store.health().ok  # the readiness probe answers too
        assert time.monotonic() - started < 1.5
        assert writer.is_alive()
    writer.join()
    assert outcome == [None]
    assert store.counts().records == 2
    store.close()


def test_past_the_write_queue_a_write_fails_at_once(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db", busy_timeout=3, write_queue=1)
    outcome: list[BaseException | None] = []

    def write() -> None:
        try:
            store.records.upsert([SourceRecord("crm", "first")], NOW)
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    with write_locked(tmp_path / "s.db"):
        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(0.3)  # the first write waits for the file's lock
        started = time.monotonic()
        with pytest.raises(StoreBusy, match="1 writes of this process already wait"):
            store.records.upsert([SourceRecord("crm", "second")], NOW)
        assert time.monotonic() - started < 0.5
    writer.join()
    assert outcome == [None]
    assert {r.record.key for r in store.records.scan()} == {"first"}
    store.close()


def test_a_write_waiting_for_another_thread_of_the_process_times_out_too(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "s.db", busy_timeout=0.3)
    with write_open(store, "long"):
        with pytest.raises(StoreBusy, match="another write of this process"):
            store.records.upsert([SourceRecord("crm", "short")], NOW)
        assert store.counts().records == 0  # a reader sees only what was committed
    assert {r.record.key for r in store.records.scan()} == {"long"}
    store.close()


def test_statements_are_counted_per_operation_across_reading_threads(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    store.records.upsert([SourceRecord("crm", "c1")], NOW)
    before = store.statements_per_operation().get("counts", 0)

    def read() -> None:
        for _ in range(50):
            store.counts()

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.statements_per_operation()["counts"] == before + 200
    store.close()


def test_an_in_memory_store_shares_one_connection_between_threads() -> None:
    store = SQLiteStore(":memory:")
    store.records.upsert([SourceRecord("crm", "c1")], NOW)
    seen: list[int] = []
    reader = threading.Thread(target=lambda: seen.append(store.counts().records))
    reader.start()
    reader.join()
    assert seen == [1]
    with store.reading(), pytest.raises(StoreError, match="inside a reading block"):
        store.records.upsert([SourceRecord("crm", "c2")], NOW)
    store.close()


def test_the_busy_timeout_and_write_queue_come_through_open_store(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/s.db", busy_timeout=0.2, write_queue=3)
    with write_locked(tmp_path / "s.db"), pytest.raises(StoreBusy) as refused:
        store.records.upsert([SourceRecord("crm", "c1")], NOW)
    assert refused.value.retry_after == 1
    store.close()
    with pytest.raises(ConfigError, match="busy timeout"):
        SQLiteStore(tmp_path / "t.db", busy_timeout=0)


def test_the_busy_timeout_bounds_both_waits_together(tmp_path: Path) -> None:
    """A write that waited for another thread of its process waits for the file's lock
    only for what is left of the timeout."""
    store = SQLiteStore(tmp_path / "s.db", busy_timeout=1.0)
    refused: list[float] = []

    def write(key: str) -> None:
        started = time.monotonic()
        try:
            store.records.upsert([SourceRecord("crm", key)], NOW)
        except StoreBusy:
            refused.append(time.monotonic() - started)

    with write_locked(tmp_path / "s.db"):
        first = threading.Thread(target=write, args=("first",))
        first.start()  # holds the process's write lock while it waits for the file's
        time.sleep(0.3)
        second = threading.Thread(target=write, args=("second",))
        second.start()
        first.join()
        second.join()
    assert len(refused) == 2
    assert all(0.9 <= waited < 1.5 for waited in refused), refused
    store.records.upsert([SourceRecord("crm", "later")], NOW)  # the full timeout again
    assert {r.record.key for r in store.records.scan()} == {"later"}
    store.close()


def test_processes_opening_a_new_file_at_once_migrate_it_once(tmp_path: Path) -> None:
    """As the workers of `idgraph serve` may: each finds the file unmigrated, one applies
    each migration and the others see it applied."""
    path = tmp_path / "new.db"
    start = threading.Barrier(4)
    opened: list[SQLiteStore] = []
    errors: list[BaseException] = []

    def open_it() -> None:
        start.wait()
        try:
            opened.append(SQLiteStore(path))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [s.schema_version for s in opened] == [len(migrations())] * 4
    for store in opened:
        store.close()


def test_stores_on_one_file_take_turns_to_write(tmp_path: Path) -> None:
    """Two stores on one file stand for two processes: a write of one waits for the
    other's write to end (on the lock file beside the store) and then goes on, or fails
    with StoreBusy past the busy timeout."""
    first = SQLiteStore(tmp_path / "s.db", busy_timeout=2)
    second = SQLiteStore(tmp_path / "s.db", busy_timeout=0.3)
    with write_open(first, "first") as release:
        with pytest.raises(StoreBusy, match="another process's write"):
            second.records.upsert([SourceRecord("crm", "second")], NOW)
        threading.Timer(0.2, release.set).start()
        third = SQLiteStore(tmp_path / "s.db", busy_timeout=2)
        third.records.upsert([SourceRecord("crm", "third")], NOW)  # waits, then writes
        third.close()
    second.records.upsert([SourceRecord("crm", "second")], NOW)
    assert {r.record.key for r in second.records.scan()} == {"first", "second", "third"}
    first.close()
    second.close()


def test_closing_twice_is_harmless(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    store.counts()  # a reader in the pool
    store.close()
    store.close()
    assert not store.health().ok
