"""Reading tables of a TOML configuration file: checks shared by the rules' sections,
each refusal a ConfigError naming the file and the field."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from identity.errors import ConfigError

SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
"""A source's name, as mappings declare it and rules refer to it."""


def only_settings(doc: Mapping[str, Any], allowed: set[str], path: str, prefix: str) -> None:
    """Refuse a setting of ``doc`` not in ``allowed``, naming it as ``prefix + name``."""
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise ConfigError(
            f"unknown setting; allowed here: {', '.join(sorted(allowed))}",
            path=path,
            field=prefix + unknown[0],
        )


def positive_int(value: object, path: str, name: str) -> int:
    """``value`` if it is an integer of at least 1 (not a boolean), else ConfigError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"must be a positive integer, got {value!r}", path=path, field=name)
    return value
