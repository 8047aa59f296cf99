"""What the fault tests share: real `idgraph` processes (started in a session of their own,
so SIGKILL reaches every process of one), data files split so that one `idgraph ingest`
commits many batches, clean reference loads in this process, and the store read straight
from its file: the partition of records into profiles, the golden records, and the
integrity checks a killed or concurrent write must never break."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from typer.testing import CliRunner

from identity.graph import IdentityGraph
from service.cli import app
from tests.e2e import free_port, wait_until_answering

ROOT = Path(__file__).resolve().parents[2]
IDGRAPH = str(Path(sys.executable).with_name("idgraph"))
TOKEN = "fault-dev-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SEED = int(os.environ.get("IDGRAPH_FAULT_SEED", "1414"))
KILLS = int(os.environ.get("IDGRAPH_FAULT_KILLS", "3"))
"""Kill points each kill test tries (`make test`: 3; more with IDGRAPH_FAULT_KILLS)."""
LOCKED = "locked"
"""What "database is locked" (SQLite's SQLITE_BUSY / SQLITE_LOCKED) would show as."""

Ref = tuple[str, str]
Partition = set[frozenset[Ref]]
Golden = dict[frozenset[Ref], tuple[tuple[str, str, str, str], ...]]


def store_url(db: Path) -> str:
    return f"sqlite:///{db}"


def child_env(tmp_path: Path, db: Path, **settings: str) -> dict[str, str]:
    """The environment of an `idgraph` process on the store ``db``: no IDGRAPH_* setting of
    the caller's leaks in; ``settings`` are IDGRAPH_* variables by their lower-case tail."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDGRAPH_")}
    env |= {
        "IDGRAPH_STORE": store_url(db),
        "IDGRAPH_TOKENS_FILE": str(tmp_path / "tokens.toml"),
        "IDGRAPH_DEV_TOKEN": TOKEN,
        "COLUMNS": "200",  # rich wraps less: a message stays on one line
    }
    env |= {f"IDGRAPH_{k.upper()}": v for k, v in settings.items()}
    return env


def split_file(path: Path, rows: int, out: Path) -> list[Path]:
    """``path`` (CSV with a header, or JSON Lines) as files of ``rows`` rows each in ``out``:
    `idgraph ingest` writes each file it is given in a transaction of its own."""
    out.mkdir(parents=True, exist_ok=True)
    lines = path.read_text("utf-8").splitlines(keepends=True)
    header = [lines.pop(0)] if path.suffix == ".csv" else []
    parts = []
    for n, start in enumerate(range(0, len(lines), rows)):
        part = out / f"{path.stem}-{n:03d}{path.suffix}"
        part.write_text("".join(header + lines[start : start + rows]), "utf-8")
        parts.append(part)
    return parts


def rows_in(path: Path) -> int:
    lines = path.read_text("utf-8").splitlines()
    return len(lines) - 1 if path.suffix == ".csv" else len(lines)


_CLEAN_ENV: dict[str, str | None] = {k: None for k in os.environ if k.startswith("IDGRAPH_")}


def clean_load(db: Path, loads: Sequence[tuple[Path, Sequence[Path]]]) -> None:
    """The reference: each (mapping, files) loaded in turn by `idgraph ingest --mapping`,
    run in this process (the command's own code, without a process start) into ``db``."""
    for mapping, files in loads:
        if not files:
            continue
        args = ["ingest", *map(str, files), "--mapping", str(mapping), "--store", store_url(db)]
        result = CliRunner().invoke(app, args, env=_CLEAN_ENV)
        assert result.exit_code == 0, result.output


def clean_rows(
    db: Path, mappings: dict[str, dict[str, object]], rows: Sequence[tuple[str, Any]]
) -> None:
    """The reference for rows sent over HTTP: ``rows`` as (source, row) ingested one source
    after another, in this process, into ``db``."""
    from identity.mapping import SourceMapping

    graph = IdentityGraph.open(store_url(db))
    try:
        for source, document in mappings.items():
            graph.ingest.register_source(
                SourceMapping.from_document({"source": source, **document}, rules=graph.rules)
            )
            mine = [row for s, row in rows if s == source]
            if mine:
                graph.ingest.ingest_rows(source, enumerate(mine, 1))
    finally:
        graph.close()


def _read(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)


def record_count(db: Path) -> int:
    """Records the file holds now (0 before it or its schema exists); for polling."""
    if not db.exists():
        return 0
    try:
        conn = _read(db)
        try:
            count: int = conn.execute("SELECT count(*) FROM records").fetchone()[0]
            return count
        finally:
            conn.close()
    except sqlite3.OperationalError:  # no schema yet, or the file is being created
        return 0


def stored_refs(db: Path) -> set[Ref]:
    conn = _read(db)
    try:
        return {(s, k) for s, k in conn.execute("SELECT source, key FROM records")}
    finally:
        conn.close()


def partition(db: Path) -> Partition:
    """The records' refs grouped by profile, without the profile ids (which differ from
    one run to another)."""
    conn = _read(db)
    try:
        groups: dict[str, set[Ref]] = defaultdict(set)
        for source, key, profile in conn.execute("SELECT source, key, profile_id FROM records"):
            groups[profile].add((source, key))
        return {frozenset(g) for g in groups.values()}
    finally:
        conn.close()


def golden(db: Path) -> Golden:
    """Each live profile's golden record (name, value, and the record it came from), by the
    refs of its records."""
    conn = _read(db)
    try:
        live = [p for (p,) in conn.execute("SELECT id FROM profiles WHERE status = 'live'")]
    finally:
        conn.close()
    graph = IdentityGraph.open(store_url(db))
    try:
        found: Golden = {}
        for profile in graph.profiles.get_many(live, identifiers=False):
            assert profile is not None
            refs = frozenset((r.record.source, r.record.key) for r in profile.records)
            found[refs] = tuple(
                sorted(
                    (
                        a.name,
                        json.dumps(a.value, sort_keys=True, default=str),
                        a.provenance.source,
                        a.provenance.record_key,
                    )
                    for a in profile.attributes
                )
            )
        return found
    finally:
        graph.close()


def check_integrity(db: Path) -> int:
    """Assert that nothing in the store is half-applied; the number of records.

    SQLite's own checks pass; every record is in a live profile and every live profile
    holds a record; every merged profile redirects to a live one; each record's identifier
    edges are exactly the identifiers it carries; links, identifier edges and the match
    index name existing records; every live or merged profile id is in the profile change
    log; the catalog of attribute names (identity/catalog.py) holds every record's."""
    conn = _read(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        outside = conn.execute(
            "SELECT r.source, r.key, r.profile_id, p.status FROM records r "
            "LEFT JOIN profiles p ON p.id = r.profile_id WHERE p.status IS NOT 'live'"
        ).fetchall()
        assert outside == [], f"records outside a live profile: {outside[:5]}"
        empty = conn.execute(
            "SELECT id FROM profiles p WHERE status = 'live' "
            "AND NOT EXISTS (SELECT 1 FROM records r WHERE r.profile_id = p.id)"
        ).fetchall()
        assert empty == [], f"live profiles without records: {empty[:5]}"
        dangling = conn.execute(
            "SELECT m.id, m.redirect_to FROM profiles m LEFT JOIN profiles t "
            "ON t.id = m.redirect_to WHERE m.status = 'merged' AND t.status IS NOT 'live'"
        ).fetchall()
        assert dangling == [], f"merged profiles redirecting to no live one: {dangling[:5]}"
        carried: dict[int, set[tuple[str, str]]] = {}
        names: set[str] = set()
        for rid, identifiers, attributes in conn.execute(
            "SELECT id, identifiers, attributes FROM records"
        ):
            carried[rid] = {(kind, value) for kind, value, *_ in json.loads(identifiers)}
            names.update(json.loads(attributes))
        catalog = conn.execute("SELECT value FROM meta WHERE key = 'attribute_names'").fetchone()
        noted = set(json.loads(catalog[0])) if catalog else set()
        assert names <= noted, f"attribute names missing from the catalog: {names - noted}"
        edges: dict[int, set[tuple[str, str]]] = defaultdict(set)
        for kind, value, rid in conn.execute(
            "SELECT kind, value, record_id FROM record_identifiers"
        ):
            edges[rid].add((kind, value))
        assert set(edges) <= set(carried), "identifier edges of missing records"
        for rid, kinds in carried.items():
            assert edges.get(rid, set()) == kinds, f"record {rid}: edges differ"
        orphans = conn.execute(
            "SELECT count(*) FROM links WHERE a NOT IN (SELECT id FROM records) "
            "OR b NOT IN (SELECT id FROM records)"
        ).fetchone()[0]
        assert orphans == 0, f"{orphans} links name a missing record"
        for table in ("match_rows", "blocking_keys"):
            missing = conn.execute(
                f"SELECT count(*) FROM {table} WHERE record_id NOT IN (SELECT id FROM records)"
            ).fetchone()[0]
            assert missing == 0, f"{missing} {table} rows name a missing record"
        unlogged = conn.execute(
            "SELECT id, status FROM profiles p WHERE status IN ('live', 'merged') "
            "AND NOT EXISTS (SELECT 1 FROM profile_changes c WHERE c.profile_id = p.id)"
        ).fetchall()
        assert unlogged == [], f"profiles missing from the change log: {unlogged[:5]}"
        return len(carried)
    finally:
        conn.close()


def in_write(db: Path) -> bool:
    """Whether a process holds the store's writers lock (``PATH-writers``, taken for the
    whole of a write transaction) at this moment: a kill now lands inside a write."""
    try:
        fd = os.open(f"{db}-writers", os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def kill_group(process: subprocess.Popen[Any]) -> None:
    """SIGKILL to every process of ``process``'s session, then reap it."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


class Server:
    """`idgraph serve` on a free port over the store ``db``, in a session of its own so a
    SIGKILL reaches all its processes; started again (same port, same store) by
    :meth:`start`. Its output goes to one log per start."""

    def __init__(self, tmp_path: Path, db: Path, *args: str, **settings: str) -> None:
        self.tmp_path = tmp_path
        self.db = db
        self.env = child_env(tmp_path, db, **settings)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.args = args
        self.starts = 0
        self.logs: list[Path] = []
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        self.starts += 1
        log = self.tmp_path / f"serve-{self.starts}.log"
        self.logs.append(log)
        command = [IDGRAPH, "serve", "--host", "127.0.0.1", "--port", str(self.port), *self.args]
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=out, stderr=out, start_new_session=True
            )
        with httpx.Client(base_url=self.base, timeout=5) as client:
            wait_until_answering(client, "/readyz", self.process, log, "idgraph serve")
        return self

    def kill(self) -> None:
        assert self.process is not None
        kill_group(self.process)
        self.process = None

    def stop(self) -> None:
        """SIGTERM (uvicorn's parent stops its workers), SIGKILL after 20 s."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            kill_group(self.process)
        self.process = None

    def log_text(self) -> str:
        return "".join(log.read_text("utf-8", "replace") for log in self.logs)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


def post_until_stored(
    client: httpx.Client, source: str, body: bytes, content_type: str, answers: list[int]
) -> httpx.Response:
    """POST /v1/records as a client should: a 503 STORE_BUSY is sent again after its
    Retry-After; every status is noted in
    ``answers``. Transport errors propagate."""
    for _ in range(20):
        response = client.post(
            "/v1/records",
            params={"source": source},
            content=body,
            headers={**AUTH, "Content-Type": content_type},
        )
        answers.append(response.status_code)
        assert LOCKED not in response.text.lower(), response.text
        if response.status_code != 503:
            return response
        assert response.json()["error"]["code"] == "STORE_BUSY", response.text
        time.sleep(int(response.headers["Retry-After"]))
    raise AssertionError(f"still STORE_BUSY after 20 tries: {response.text}")
