"""idgraph's domain: identifiers, source records, matching, profiles.

Nothing here knows about HTTP, SQLite or Neo4j; storage is reached through
:class:`identity.store.base.Store` only.
"""
