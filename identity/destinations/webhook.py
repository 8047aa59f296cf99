"""The webhook sink: a batch as one signed NDJSON POST. The HTTP client itself is a
:class:`Transport` the entry point passes in (service/webhooks.py), so the domain does
not import one."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Protocol

from identity.destinations.model import Batch, Destination, Outcome
from identity.destinations.signing import SIGNATURE_HEADER, signature
from identity.segments import change_cursor

RETRYABLE_STATUSES = frozenset({408, 429})
"""4xx statuses worth retrying (with every 5xx); any other 4xx dead-letters at once."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    reason: str
    headers: Mapping[str, str]
    """Lower-case header names."""


class TransportError(Exception):
    """No answer: a timeout, a refused or reset connection. The message names the kind,
    never the body."""


class Transport(Protocol):
    def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> Response: ...


def ndjson(rows: list[dict[str, object]]) -> bytes:
    return b"".join(
        json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for row in rows
    )


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - now).total_seconds())
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


class WebhookSink:
    """POSTs a batch: ``Content-Type: application/x-ndjson``, signed, with the feed
    cursor and an idempotency key the same for every attempt of the batch."""

    def __init__(self, transport: Transport, clock: Callable[[], datetime]) -> None:
        self.transport = transport
        self.clock = clock

    def deliver(self, destination: Destination, batch: Batch, secret: str) -> Outcome:
        assert destination.url is not None
        body = ndjson(batch.rows)
        now = self.clock()
        headers = {
            "Content-Type": "application/x-ndjson",
            "Idgraph-Destination": destination.name,
            "Idgraph-Segment": destination.segment,
            "Idgraph-Cursor": change_cursor(batch.to_seq),
            "Idgraph-Batch": f"{batch.kind}:{batch.from_seq}-{batch.to_seq}",
            "Idempotency-Key": batch.key,
            SIGNATURE_HEADER: signature(secret, int(now.timestamp()), body),
        }
        try:
            answer = self.transport.post(
                destination.url, body, headers, destination.timeout_seconds
            )
        except TransportError as error:
            return Outcome(False, None, str(error), retry=True)
        if 200 <= answer.status < 300:
            return Outcome(True, answer.status)
        line = f"HTTP {answer.status} {answer.reason}".strip()
        if answer.status >= 500 or answer.status in RETRYABLE_STATUSES:
            wait = retry_after(answer.headers.get("retry-after"), now)
            return Outcome(False, answer.status, line, retry=True, retry_after=wait)
        return Outcome(False, answer.status, line, retry=False)
