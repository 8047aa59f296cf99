"""Ingestion: rows from a source become stored records and resolved profiles.

``rows`` admits and maps one row (both paths); ``service`` writes and resolves in batches
as rows arrive (files, the HTTP API, events' stitch records); ``bulk`` loads large files:
rows mapped in worker processes, written in large batches, new records resolved once at
the end (docs/scale.md).
"""

from identity.ingest.rows import Row, RowMapping
from identity.ingest.service import (
    DEFAULT_BATCH_SIZE,
    STITCH_SOURCE,
    IngestProgress,
    IngestReport,
    IngestService,
    ProgressCallback,
    StoredBatch,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "STITCH_SOURCE",
    "IngestProgress",
    "IngestReport",
    "IngestService",
    "ProgressCallback",
    "Row",
    "RowMapping",
    "StoredBatch",
]
