"""The service's configuration, read from ``IDGRAPH_*`` environment variables.

The one place that reads the environment; the domain is handed what it needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from identity.graph import IdentityGraph
    from identity.store.base import Store

MiB = 1024 * 1024


class Settings(BaseSettings):
    """Settings of the API and the CLI (see the table in README.md)."""

    # hide_input_in_errors: a validation error must not print the dev token.
    model_config = SettingsConfigDict(
        env_prefix="IDGRAPH_", extra="ignore", hide_input_in_errors=True
    )

    store: str = "sqlite:///data/idgraph.db"
    """Store URL: ``sqlite:///PATH`` (embedded) or ``neo4j://HOST:7687`` (also ``neo4j+s://``,
    ``bolt://``; user, password and database may be written into the URL)."""
    neo4j_user: str | None = None
    """Neo4j user, for a store URL that names none."""
    neo4j_password: SecretStr | None = None
    """Neo4j password, for a store URL that names none."""
    neo4j_database: str | None = None
    """Neo4j database, for a store URL that names none (default: the server's default)."""
    rules: Path | None = None
    """Rules file; the packaged ``identity/config/rules.toml`` when unset."""
    host: str = "127.0.0.1"
    port: int = 8000
    tokens_file: Path = Path("data/tokens.toml")
    """Hashed API tokens and their scopes, written by ``idgraph token create``."""
    dev_token: SecretStr | None = None
    """A development token with every scope; refused in production."""
    env: Literal["development", "production"] = "development"
    max_body_bytes: int = 50 * MiB
    """Largest request body ``POST /v1/records``, ``/v1/events`` and ``/graphql`` accept
    (413 above it)."""
    graphql_max_depth: int = 10
    segment_refresh_seconds: int = Field(default=0, ge=0)
    """Re-evaluate every segment this often so time windows move with the clock (0: off;
    then run ``idgraph segments refresh`` on a schedule instead)."""

    @model_validator(mode="after")
    def _no_dev_token_in_production(self) -> Settings:
        if self.env == "production" and self.dev_token is not None:
            raise ValueError(
                "IDGRAPH_DEV_TOKEN is set but IDGRAPH_ENV is production: a development token "
                "has every scope; unset it and create tokens with `idgraph token create`"
            )
        return self

    def open_store(self, store: str | None = None) -> Store:
        """The store ``store`` (default: these settings') names, with the Neo4j
        credentials of these settings."""
        from identity.store.factory import open_store

        password = self.neo4j_password.get_secret_value() if self.neo4j_password else None
        return open_store(
            store or self.store,
            user=self.neo4j_user,
            password=password,
            database=self.neo4j_database,
        )

    def open_graph(self, store: str | None = None, rules: Path | None = None) -> IdentityGraph:
        """The domain over the store ``store`` (default: these settings') names, with the
        Neo4j credentials of these settings; the rules file ``rules`` or the configured."""
        from identity.graph import IdentityGraph
        from identity.rules import load_rules

        opened = self.open_store(store)
        try:
            return IdentityGraph(opened, load_rules(rules or self.rules))
        except BaseException:
            opened.close()
            raise
