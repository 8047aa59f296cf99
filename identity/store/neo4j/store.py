"""The production store: the identity graph in Neo4j 5, through the official driver.

Graph model (docs/graph-model.md): ``(:Record)-[:HAS_IDENTIFIER]->(:Identifier)``,
``(:Record)-[:LINK]->(:Record)``, ``(:Record)-[:IN_PROFILE]->(:Profile)``,
``(:Profile)-[:REDIRECTS_TO]->(:Profile)`` for merged ids, ``(:Event)-[:CARRIES]->(:Identifier)``
on the same identifier nodes, ``(:Segment)`` with ``(:SegmentMember)`` and
``(:SegmentChange)`` nodes keyed by segment name and profile id, and the stewardship logs
``(:ProfileChange)`` and ``(:AuditEntry)``, the profile read model's ``(:ProfileView)``
projection nodes keyed by profile id, and ``(:Household)``, ``(:HouseholdMember)`` and
``(:HouseholdCorrection)`` nodes. Every statement is a file in
``cypher/`` loaded by name (:mod:`identity.store.neo4j.cypher`); none is written here.

This module opens the store, keeps its schema and composes one object per area (records,
profiles, ...: a module each) over one :class:`~identity.store.neo4j.connection.Neo4jConnection`.
Inside :meth:`unit_of_work` every call of the same thread joins one explicit transaction,
which is not retried (the block's own code cannot be replayed); :meth:`reading` does the
same for reads, in a read transaction, so reading a profile is one round trip per
statement instead of a transaction (and its commit) per statement.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import neo4j

from identity.errors import StoreError
from identity.model import StoreCounts, StoreHealth
from identity.store.base import Store
from identity.store.neo4j.audit import Neo4jAudit
from identity.store.neo4j.connection import DEFAULT_BATCH_SIZE, Neo4jConnection, Statements
from identity.store.neo4j.copy import Neo4jCopy
from identity.store.neo4j.cypher import statements
from identity.store.neo4j.destinations import Neo4jDestinations
from identity.store.neo4j.events import Neo4jEvents
from identity.store.neo4j.households import Neo4jHouseholds
from identity.store.neo4j.links import Neo4jLinks
from identity.store.neo4j.matching import Neo4jMatchIndex
from identity.store.neo4j.privacy import Neo4jPrivacy
from identity.store.neo4j.profile_view import Neo4jProfileViews
from identity.store.neo4j.profiles import Neo4jProfiles
from identity.store.neo4j.quality import Neo4jQuality
from identity.store.neo4j.records import Neo4jRecords
from identity.store.neo4j.segments import Neo4jSegments
from identity.store.neo4j.sources import Neo4jMeta, Neo4jSources

SCHEMA_VERSION = 8
"""The version of ``cypher/schema.cypher``; a graph migrated by a newer idgraph is refused."""
VIEW_STATE_KEY = "profile_view"
"""The meta key of the profile read model's state (identity/profile_view.py STATE_KEY)."""
NEW_VIEW = "new"
"""Its value on a graph that had no profile when it gained the read model (version 6):
the (empty) view is complete; a graph with profiles is left without it, stale until
``idgraph profiles rebuild``. As the embedded store's migration 0007 does."""


class Neo4jStore(Store):
    """The identity graph in a Neo4j 5 database."""

    backend = "neo4j"
    # A transaction lives in the server's heap: with a 1 GB heap, one writing 20,000
    # records ran out of transaction memory (MemoryPoolOutOfMemoryError); the incremental
    # path's 5,000 fit.
    records_per_unit_of_work = 5_000

    def __init__(
        self,
        uri: str,
        *,
        user: str | None = None,
        password: str | None = None,
        database: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        self.uri = uri
        self._db = Neo4jConnection(
            uri, user=user, password=password, database=database, batch_size=batch_size
        )
        self.database = self._db.database
        self.batch_size = batch_size
        self.statement_counts: Counter[str] = self._db.statement_counts
        """Statements sent per store operation since the store was opened (a metric)."""
        self.sources = Neo4jSources(self._db)
        self.meta = Neo4jMeta(self._db)
        self.records = Neo4jRecords(self._db)
        self.matching = Neo4jMatchIndex(self._db)
        self.links = Neo4jLinks(self._db)
        self.profiles = Neo4jProfiles(self._db)
        self.views = Neo4jProfileViews(self._db)
        self.events = Neo4jEvents(self._db)
        self.segments = Neo4jSegments(self._db)
        self.audit = Neo4jAudit(self._db)
        self.privacy = Neo4jPrivacy(self._db)
        self.destinations = Neo4jDestinations(self._db)
        self.quality = Neo4jQuality(self._db)
        self.households = Neo4jHouseholds(self._db)
        self.copy = Neo4jCopy(self._db, lambda: self._migrate(emptied=True))
        try:
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    @property
    def location(self) -> str | None:
        return self._db.where

    # -- schema ----------------------------------------------------------------------------

    def _migrate(self, *, emptied: bool = False) -> None:
        """Apply ``schema.cypher`` unless the graph is at this version. ``emptied``: the
        graph was just emptied (:meth:`Neo4jCopy.delete_everything`), which leaves no
        metadata at all, as in the embedded store."""
        current = self._schema_version()
        if current is not None and current > SCHEMA_VERSION:
            raise StoreError(
                f"the Neo4j graph at {self._db.where} has schema version {current}, newer than "
                f"this idgraph knows ({SCHEMA_VERSION}): upgrade idgraph"
            )
        if current == SCHEMA_VERSION:
            return
        # Schema statements cannot share a transaction with writes: one each, in order.
        for index, text in enumerate(statements("schema")):

            def apply(s: Statements, text: str = text) -> None:
                s.run_text(text)

            try:
                self._db.write("migrate", apply)
            except StoreError as error:
                raise type(error)(f"schema.cypher statement {index + 1}: {error}") from error
        # Version 6: a graph without profiles has a complete (empty) read model.
        gains_view = current is None or current < 6
        if gains_view and not emptied and next(self.copy.profiles(batch_size=1), None) is None:
            self.meta.set(VIEW_STATE_KEY, NEW_VIEW)
        self._db.write("migrate", lambda s: s.run("set_schema_version", version=SCHEMA_VERSION))

    def _schema_version(self) -> int | None:
        rows = self._db.read("schema_version", lambda s: s.run("schema_version"))
        version = rows[0]["version"] if rows else None
        return int(version) if version is not None else None

    # -- transactions ----------------------------------------------------------------------

    def _write_block(self) -> AbstractContextManager[None]:
        return self._unit_of_work()

    @contextmanager
    def _unit_of_work(self) -> Iterator[None]:
        if self._db.read_only:
            raise StoreError("unit_of_work: cannot write inside a reading block")
        with self._db.explicit_transaction("unit_of_work", neo4j.WRITE_ACCESS):
            yield

    def _read_block(self) -> AbstractContextManager[None]:
        # A read transaction: on a cluster the driver sends it to a follower or read replica.
        return self._db.explicit_transaction("reading", neo4j.READ_ACCESS)

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        self._db.close()

    def health(self) -> StoreHealth:
        try:
            version = self._schema_version()
        except StoreError as error:
            return StoreHealth(False, self.backend, str(error))
        return StoreHealth(True, self.backend, f"{self._db.where} (schema v{version})")

    def counts(self) -> StoreCounts:
        row = self._db.read("counts", lambda s: s.run("counts"))[0]
        return StoreCounts(
            int(row["records"]), int(row["identifiers"]), int(row["profiles"]), int(row["links"])
        )

    def statements_per_operation(self) -> dict[str, int]:
        return self._db.statements_per_operation()
