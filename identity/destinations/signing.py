"""Signing webhook bodies: ``Idgraph-Signature: t=<unix seconds>,v1=<hex>``, the HMAC-SHA256
of ``"<t>." + body`` with the destination's secret (Stripe's scheme). The timestamp is
inside the signed text, so a captured request cannot be replayed later with a new one."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "Idgraph-Signature"
TOLERANCE_SECONDS = 300
"""How old a signature a receiver accepts (clock skew plus network time)."""


def new_secret() -> str:
    """A fresh signing secret: 32 random bytes, URL-safe text with a recognisable prefix."""
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header value signing ``body`` at ``timestamp`` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str, header: str, body: bytes, now: float, tolerance: int = TOLERANCE_SECONDS
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` and is at most ``tolerance``
    seconds old at ``now`` (unix seconds). Any ``v1`` of the header may match, so a
    sender may sign with an old and a new secret while rotating."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, given) for given in parts.get("v1", []))
