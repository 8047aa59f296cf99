"""The service's configuration, read from ``IDGRAPH_*`` environment variables.

The one place that reads the environment; the domain is handed what it needs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from identity.graph import IdentityGraph
    from identity.rules import Rules
    from identity.store.base import Store, UnitOfWork
    from service.graphql.limits import GraphQLLimits

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
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    """API processes ``idgraph serve`` starts, all serving the one store (default: the
    number of cores)."""
    sqlite_busy_timeout_ms: int = Field(default=5_000, ge=1)
    """Milliseconds a write to a SQLite store waits for the write lock (another process's
    or thread's) before it is refused with 503 STORE_BUSY and a Retry-After."""
    write_queue: int = Field(default=8, ge=1)
    """Writes of one API process that may wait for a SQLite store's write lock at once;
    one more is refused at once with 503 STORE_BUSY."""
    tokens_file: Path = Path("data/tokens.toml")
    """Hashed API tokens and their scopes, written by ``idgraph token create``."""
    dev_token: SecretStr | None = None
    """A development token with every scope; refused in production."""
    env: Literal["development", "production"] = "development"
    max_body_bytes: int = 50 * MiB
    """Largest request body ``POST /v1/records`` and ``/v1/events`` accept (413 above it)."""
    graphql_max_depth: int = Field(default=10, ge=1)
    """Deepest nesting of fields a GraphQL query may have."""
    graphql_max_bytes: int = Field(default=50_000, ge=1)
    """Largest GraphQL query text, in bytes (refused before parsing)."""
    graphql_max_body_bytes: int = Field(default=1 * MiB, ge=1)
    """Largest body of a GraphQL request, query and variables (413 above it, unread)."""
    graphql_max_tokens: int = Field(default=4_000, ge=1)
    """Most lexical tokens in a GraphQL query (the parser stops past it)."""
    graphql_max_aliases: int = Field(default=100, ge=0)
    """Most aliased fields in a GraphQL query, counted with fragments expanded."""
    graphql_max_fragment_spreads: int = Field(default=500, ge=0)
    """Most fragment spreads in a GraphQL query, counted with fragments expanded."""
    graphql_max_cost: int = Field(default=10_000, ge=1)
    """Highest cost of one GraphQL request (docs/api.md, "Limits")."""
    graphql_max_page_size: int = Field(default=1000, ge=1)
    """Largest ``first`` a GraphQL list may be asked for (a field may cap lower)."""
    graphql_cost_per_minute: int = Field(default=300_000, ge=0)
    """Cost units one token may spend per minute, per API process (0: no budget)."""
    rate_limit_per_second: float = Field(default=0, ge=0)
    """Requests one token may send per second, per API process (0: no limit); a token's own
    ``requests_per_second`` (``idgraph token create --requests-per-second``) overrides it.
    Past it: 429 RATE_LIMITED with Retry-After."""
    rate_limit_burst: int | None = Field(default=None, ge=1)
    """Requests a token may send at once above its rate (default: one second's worth)."""
    graphql_time_budget_seconds: float = Field(default=10.0, ge=0)
    """Time one GraphQL query may run; the store stops it then and the fields not resolved
    answer TIMEOUT (0: no budget). Mutations have none."""
    graphql_document_cache_size: int = Field(default=256, ge=0)
    """Query texts whose parsed document, validation result and cost each API process keeps,
    least recently used out first (0: parse, validate and cost every request anew)."""
    graphql_persisted_queries: Path | None = None
    """Manifest of registered GraphQL queries by SHA-256 (Apollo's persisted query manifest,
    or ``{"<sha256>": "<query>"}``), checked at start-up (docs/api.md, "Persisted queries")."""
    graphql_persisted_only: bool = False
    """Run only the queries of the manifest (a safelist); any other text is refused."""
    graphql_persisted_cache_size: int = Field(default=1_000, ge=0)
    """Query texts each API process keeps for automatic persisted queries (APQ), least
    recently used out first (0: APQ off; the manifest still answers)."""
    graphql_introspection: bool | None = None
    """Answer ``__schema`` and ``__type`` (default: yes in development, no in production)."""
    graphql_max_batch: int = Field(default=0, ge=0)
    """Most operations in one batched GraphQL request, a JSON array (0: arrays refused)."""
    subscription_poll_seconds: float = Field(default=0.5, gt=0)
    """How often an open GraphQL subscription reads its change log for new entries."""
    max_subscriptions: int = Field(default=100, ge=0)
    """Most GraphQL subscriptions open at once in each API process; one more is refused
    with TOO_MANY_SUBSCRIPTIONS (0: subscriptions are refused)."""
    segment_refresh_seconds: int = Field(default=0, ge=0)
    """Re-evaluate every segment this often so time windows move with the clock (0: off;
    then run ``idgraph segments refresh`` on a schedule instead)."""
    retention_seconds: int = Field(default=0, ge=0)
    """Apply the retention periods this often (docs/privacy.md; 0: off, then run
    ``idgraph retention apply`` on a schedule instead)."""
    destinations: Literal["on", "off"] = "on"
    """Whether each API process runs the destination delivery worker (docs/activation.md;
    a lease per destination lets one process deliver it); off: run ``idgraph destinations
    run`` instead, or deliver nothing."""
    destinations_idle_seconds: float = Field(default=1.0, gt=0)
    """How often the delivery worker looks at the segment feeds when nothing is pending."""
    export_processes: int = Field(default=1, ge=0)
    """Export processes each API process may start, at a lower CPU priority, to make the
    body of a large segment export (``GET /v1/segments/{name}/members``) while the API
    process only forwards it (0: every export runs in the API process)."""
    export_process_min_members: int = Field(default=10_000, ge=0)
    """Members a segment needs for its export to run in an export process; a smaller one
    runs in the API process (an export process costs a second or two to start)."""
    export_nice: int = Field(default=10, ge=0, le=19)
    """Niceness an export process adds to its own (``os.nice``), so that the kernel runs the
    API process's request handling first."""

    @model_validator(mode="after")
    def _budget_holds_one_request(self) -> Settings:
        if 0 < self.graphql_cost_per_minute < self.graphql_max_cost:
            raise ValueError(
                f"IDGRAPH_GRAPHQL_COST_PER_MINUTE ({self.graphql_cost_per_minute}) is below "
                f"IDGRAPH_GRAPHQL_MAX_COST ({self.graphql_max_cost}): the largest request "
                "allowed could never run; raise the budget or lower the cap"
            )
        return self

    @model_validator(mode="after")
    def _persisted_only_has_a_manifest(self) -> Settings:
        if self.graphql_persisted_only and self.graphql_persisted_queries is None:
            raise ValueError(
                "IDGRAPH_GRAPHQL_PERSISTED_ONLY is true but IDGRAPH_GRAPHQL_PERSISTED_QUERIES "
                "names no manifest: no query could run; name the manifest file"
            )
        return self

    @property
    def graphql_introspection_allowed(self) -> bool:
        """Whether GraphQL introspection answers: as set, else only in development."""
        if self.graphql_introspection is not None:
            return self.graphql_introspection
        return self.env != "production"

    def graphql_limits(self) -> GraphQLLimits:
        """The GraphQL caps and budget these settings give."""
        from service.graphql.limits import GraphQLLimits

        return GraphQLLimits(
            max_bytes=self.graphql_max_bytes,
            max_tokens=self.graphql_max_tokens,
            max_depth=self.graphql_max_depth,
            max_aliases=self.graphql_max_aliases,
            max_fragment_spreads=self.graphql_max_fragment_spreads,
            max_cost=self.graphql_max_cost,
            max_page_size=self.graphql_max_page_size,
            cost_per_minute=self.graphql_cost_per_minute,
            time_budget_seconds=self.graphql_time_budget_seconds,
        )

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
        return self.store_opener(store)()

    def store_opener(self, store: str | None = None) -> Callable[[], Store]:
        """What :meth:`open_store` calls, as a picklable function: worker processes open
        the same store with it."""
        from identity.store.factory import open_store

        password = self.neo4j_password.get_secret_value() if self.neo4j_password else None
        return partial(
            open_store,
            store or self.store,
            user=self.neo4j_user,
            password=password,
            database=self.neo4j_database,
            busy_timeout=self.sqlite_busy_timeout_ms / 1000,
            write_queue=self.write_queue,
        )

    def current_rules(self, store: UnitOfWork, rules: Path | None = None) -> tuple[Rules, str]:
        """The rules a graph over ``store`` runs with, and their text: the file ``rules``,
        else the configured one, else the rules the store was last rebased to, else the
        packaged default. What :meth:`open_graph` loads and a rule change starts from."""
        from identity.rule_changes.active import current_rules

        return current_rules(store, rules or self.rules)

    def open_graph(self, store: str | None = None, rules: Path | None = None) -> IdentityGraph:
        """The domain over the store ``store`` (default: these settings') names, with the
        Neo4j credentials of these settings; the rules file ``rules`` or the configured one,
        else the rules the store was last rebased to (`idgraph rules apply`), else the
        packaged default."""
        from identity.graph import IdentityGraph

        opener = self.store_opener(store)
        opened = opener()
        try:
            loaded, _ = self.current_rules(opened, rules)
            return IdentityGraph(opened, loaded, opener=opener)
        except BaseException:
            opened.close()
            raise
