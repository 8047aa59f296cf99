"""The service's configuration, read from ``IDGRAPH_*`` environment variables.

The one place that reads the environment; the domain is handed what it needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024


class Settings(BaseSettings):
    """Settings of the API and the CLI (see the table in README.md)."""

    # hide_input_in_errors: a validation error must not print the dev token.
    model_config = SettingsConfigDict(
        env_prefix="IDGRAPH_", extra="ignore", hide_input_in_errors=True
    )

    store: str = "sqlite:///data/idgraph.db"
    """Store URL: ``sqlite:///PATH`` (embedded)."""
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
    """Largest request body ``POST /v1/records`` accepts (413 above it)."""
    graphql_max_depth: int = 10

    @model_validator(mode="after")
    def _no_dev_token_in_production(self) -> Settings:
        if self.env == "production" and self.dev_token is not None:
            raise ValueError(
                "IDGRAPH_DEV_TOKEN is set but IDGRAPH_ENV is production: a development token "
                "has every scope; unset it and create tokens with `idgraph token create`"
            )
        return self
