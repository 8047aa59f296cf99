"""Opens the store a URL names: ``sqlite:///path/to/file.db`` (embedded) or ``neo4j://...``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from identity.errors import ConfigError
from identity.store.base import Store

DEFAULT_STORE_URL = "sqlite:///data/idgraph.db"


def open_store(url: str = DEFAULT_STORE_URL) -> Store:
    """Open (and migrate) the store at ``url``."""
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
    if parsed.scheme in {"neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc"}:
        raise ConfigError(
            "the Neo4j store is not built yet; use sqlite:///PATH for now",
            field="IDGRAPH_STORE",
        )
    raise ConfigError(
        f"unknown store URL scheme '{parsed.scheme}': use sqlite:///PATH or neo4j://HOST:7687",
        field="IDGRAPH_STORE",
    )
