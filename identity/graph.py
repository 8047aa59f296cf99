"""The composition root of the domain: one store, the rules, and the use cases over them.

Entry points (CLI, HTTP) build one :class:`IdentityGraph` and call its services.
"""

from __future__ import annotations

from pathlib import Path

from identity.ingest import IngestService
from identity.profiles import ProfileService
from identity.store.base import Store


class IdentityGraph:
    store: Store
    ingest: IngestService
    profiles: ProfileService

    @classmethod
    def open(cls, store_url: str, rules_path: Path | None = None) -> IdentityGraph:
        """Open the store at ``store_url`` with the rules file (or the packaged default)."""
        raise NotImplementedError

    def close(self) -> None:
        self.store.close()
