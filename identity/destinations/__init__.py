"""Destinations: a segment's entered and exited profiles pushed to a webhook (signed NDJSON
batches) or written to a folder (CSV or Parquet files and a manifest), at least once, with
retries, backoff and a dead-letter list a steward can replay (docs/activation.md).

``model`` validates a destination, ``signing`` signs and verifies, ``backoff`` says when
to retry, ``webhook`` and ``files`` are the sinks, ``service`` the use cases and
``worker`` the delivery loop.
"""

from identity.destinations.backoff import Backoff
from identity.destinations.model import Batch, Destination, DestinationSettings, Outcome
from identity.destinations.service import (
    Added,
    DestinationService,
    DestinationView,
    Replayed,
    UnknownDestination,
)
from identity.destinations.signing import signature, verify
from identity.destinations.worker import DeliveryWorker, RunReport

__all__ = [
    "Added",
    "Backoff",
    "Batch",
    "DeliveryWorker",
    "Destination",
    "DestinationService",
    "DestinationSettings",
    "DestinationView",
    "Outcome",
    "Replayed",
    "RunReport",
    "UnknownDestination",
    "signature",
    "verify",
]
