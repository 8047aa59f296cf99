"""The Neo4j store, by area: :mod:`.store` opens it and composes one module per port
(:mod:`.sources`, :mod:`.records`, :mod:`.matching`, :mod:`.links`, :mod:`.profiles`,
:mod:`.profile_view`, :mod:`.events`, :mod:`.segments`, :mod:`.audit`, :mod:`.privacy`,
:mod:`.copy`) over one shared
:mod:`.connection`; :mod:`.cypher` loads the statements of the top-level ``cypher/`` folder.
"""

from identity.store.neo4j.connection import DEFAULT_BATCH_SIZE
from identity.store.neo4j.store import SCHEMA_VERSION, Neo4jStore

__all__ = ["DEFAULT_BATCH_SIZE", "SCHEMA_VERSION", "Neo4jStore"]
