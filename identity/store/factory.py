"""Opens the store a URL names: ``sqlite:///path/to/file.db`` (embedded) or a Neo4j URL.

Neo4j URLs are the driver's (``neo4j://``, ``neo4j+s://``, ``bolt://`` ...); credentials and
the database may be written into the URL (``neo4j://user:secret@host:7687/idgraph``) or
passed by the caller from its configuration; what the URL says wins.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import ParseResult, unquote, urlparse

from identity.errors import ConfigError
from identity.store.base import Store

DEFAULT_STORE_URL = "sqlite:///data/idgraph.db"


NEO4J_SCHEMES = frozenset({"neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc"})


def sqlite_path(url: str) -> Path | str:
    """The file a ``sqlite:`` URL names (``":memory:"`` for an in-memory store).

    ``sqlite:///relative/path`` and ``sqlite:////absolute/path``, as SQLAlchemy spells them.
    """
    raw = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
    if not raw:
        raise ConfigError(
            "a sqlite store URL needs a path, e.g. sqlite:///data/idgraph.db",
            field="IDGRAPH_STORE",
        )
    return Path(raw) if raw != ":memory:" else raw


def same_store(first: str, second: str, *, database: str | None = None) -> bool:
    """Whether two store URLs name the same store: the same SQLite file, or the same
    Neo4j server (host and port, whatever the scheme) and database. ``database`` is the
    configured one, for URLs that name none."""
    a, b = urlparse(first), urlparse(second)
    if a.scheme == b.scheme == "sqlite":
        pa, pb = sqlite_path(first), sqlite_path(second)
        if isinstance(pa, str) or isinstance(pb, str):
            return False  # every in-memory store is its own
        return pa.resolve() == pb.resolve()
    if a.scheme in NEO4J_SCHEMES and b.scheme in NEO4J_SCHEMES:

        def where(parsed: ParseResult) -> tuple[str, int, str | None]:
            name = unquote(parsed.path.strip("/")) or database
            return ((parsed.hostname or "").lower(), parsed.port or 7687, name)

        return where(a) == where(b)
    return False


def open_store(
    url: str = DEFAULT_STORE_URL,
    *,
    user: str | None = None,
    password: str | None = None,
    database: str | None = None,
    busy_timeout: float | None = None,
    write_queue: int | None = None,
) -> Store:
    """Open (and migrate) the store at ``url``; ``user``, ``password`` and ``database``
    apply to Neo4j URLs that do not name their own. ``busy_timeout`` (seconds a write
    waits for the write lock) and ``write_queue`` (writes of this process that may wait
    at once) apply to SQLite, whose defaults they replace; past either a write fails
    with StoreBusy."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        from identity.store.sqlite import SQLiteStore
        from identity.store.sqlite.store import DEFAULT_BUSY_TIMEOUT, DEFAULT_WRITE_QUEUE

        return SQLiteStore(
            sqlite_path(url),
            busy_timeout=DEFAULT_BUSY_TIMEOUT if busy_timeout is None else busy_timeout,
            write_queue=DEFAULT_WRITE_QUEUE if write_queue is None else write_queue,
        )
    if parsed.scheme in NEO4J_SCHEMES:
        from identity.store.neo4j import Neo4jStore

        if not parsed.hostname:
            raise ConfigError(
                "a Neo4j store URL needs a host, e.g. neo4j://localhost:7687",
                field="IDGRAPH_STORE",
            )
        host = f"[{parsed.hostname}]" if ":" in parsed.hostname else parsed.hostname
        address = f"{parsed.scheme}://{host}" + (f":{parsed.port}" if parsed.port else "")
        name = parsed.path.strip("/")
        if "/" in name:
            raise ConfigError(
                f"a Neo4j store URL names at most one database, not '{name}'",
                field="IDGRAPH_STORE",
            )
        return Neo4jStore(
            address,
            user=unquote(parsed.username) if parsed.username else user,
            password=unquote(parsed.password) if parsed.password is not None else password,
            database=unquote(name) if name else database,
        )
    raise ConfigError(
        f"unknown store URL scheme '{parsed.scheme}': use sqlite:///PATH or neo4j://HOST:7687",
        field="IDGRAPH_STORE",
    )
