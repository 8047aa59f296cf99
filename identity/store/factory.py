"""Opens the store a URL names: ``sqlite:///path/to/file.db`` (embedded) or a Neo4j URL.

Neo4j URLs are the driver's (``neo4j://``, ``neo4j+s://``, ``bolt://`` ...); credentials and
the database may be written into the URL (``neo4j://user:secret@host:7687/idgraph``) or
passed by the caller from its configuration; what the URL says wins.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from identity.errors import ConfigError
from identity.store.base import Store

DEFAULT_STORE_URL = "sqlite:///data/idgraph.db"


NEO4J_SCHEMES = frozenset({"neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc"})


def open_store(
    url: str = DEFAULT_STORE_URL,
    *,
    user: str | None = None,
    password: str | None = None,
    database: str | None = None,
) -> Store:
    """Open (and migrate) the store at ``url``; ``user``, ``password`` and ``database``
    apply to Neo4j URLs that do not name their own."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        from identity.store.sqlite import SQLiteStore

        # sqlite:///relative/path and sqlite:////absolute/path, as SQLAlchemy spells them.
        raw = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
        if not raw:
            raise ConfigError(
                "a sqlite store URL needs a path, e.g. sqlite:///data/idgraph.db",
                field="IDGRAPH_STORE",
            )
        return SQLiteStore(Path(raw) if raw != ":memory:" else raw)
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
