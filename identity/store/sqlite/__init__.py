"""The embedded store, by area: one module per port over one shared connection
(``connection.py``), the statements of each area in ``queries/<area>.sql``, the schema in
``migrations/``. Key lists of any length are passed as one JSON array parameter unpacked
with ``json_each``, so a batch is one statement, never one per key.
"""

from identity.store.sqlite.store import SQLiteStore, migrations

__all__ = ["SQLiteStore", "migrations"]
