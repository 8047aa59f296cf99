"""The HTTP client webhooks are delivered with (httpx), and wiring it and the environment's
secrets into a graph's destination service: the domain names a Transport, this is it."""

from __future__ import annotations

import os
from collections.abc import Mapping

import httpx

from identity.destinations.webhook import Response, TransportError
from identity.graph import IdentityGraph

CONNECT_TIMEOUT = 5.0
"""Seconds to open a connection; reading the answer gets the destination's timeout."""


class HttpxTransport:
    """POSTs over one pooled httpx client; redirects are not followed (a 3xx is the
    receiver's error, not a new address to send personal data to)."""

    def __init__(self, client: httpx.Client | None = None) -> None:
        self.client = client or httpx.Client(follow_redirects=False)

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Response:
        limits = httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout))
        try:
            answer = self.client.post(url, content=body, headers=dict(headers), timeout=limits)
        except httpx.TimeoutException as error:
            raise TransportError(f"timeout ({type(error).__name__})") from error
        except httpx.HTTPError as error:
            raise TransportError(f"no answer ({type(error).__name__})") from error
        return Response(
            answer.status_code,
            answer.reason_phrase,
            {k.lower(): v for k, v in answer.headers.items()},
        )

    def close(self) -> None:
        self.client.close()


def wire(graph: IdentityGraph, transport: HttpxTransport | None = None) -> HttpxTransport:
    """Give the graph's destinations an HTTP client and the environment (for secrets kept
    out of the store, ``--secret-env``); returns the client, for closing."""
    transport = transport or HttpxTransport()
    graph.destinations.transport = transport
    graph.destinations.secrets = os.environ
    return transport
