"""API tokens and scopes.

A token is ``idg_`` and 32 random bytes; the tokens file keeps only its SHA-256 hash with
a name and scopes, so a leaked file grants nothing. The file is re-read when it changes,
so ``idgraph token create`` takes effect without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import tempfile
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from identity.errors import ConfigError
from service.errors import ApiError
from service.ratelimit import RequestLimiter

log = logging.getLogger(__name__)

PROFILES_READ = "profiles:read"
PII_READ = "pii:read"
INGEST_WRITE = "ingest:write"
STEWARD_WRITE = "steward:write"
SEGMENTS_READ = "segments:read"
PRIVACY_READ = "privacy:read"
"""Access requests: everything held about one person, unmasked (GDPR Art. 15)."""
PRIVACY_WRITE = "privacy:write"
"""Erasure, suppression, retention and removing an identifier from a profile."""
DESTINATIONS_READ = "destinations:read"
"""Destinations: their config, delivery state and dead letters (never their secrets)."""
DESTINATIONS_WRITE = "destinations:write"
"""Adding, pausing, resuming and removing destinations, replaying their dead letters; adding
one whose fields are personal also needs pii:read."""
ADMIN = "admin"
"""Implies every other scope."""
SCOPES = frozenset(
    {
        PROFILES_READ,
        PII_READ,
        INGEST_WRITE,
        STEWARD_WRITE,
        SEGMENTS_READ,
        PRIVACY_READ,
        PRIVACY_WRITE,
        DESTINATIONS_READ,
        DESTINATIONS_WRITE,
        ADMIN,
    }
)

TOKEN_PREFIX = "idg_"
DEV_ACTOR = "dev"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling (the token's name) and what they may do."""

    name: str
    scopes: frozenset[str]
    requests_per_second: float | None = None
    """The token's own request rate; None: the service's (IDGRAPH_RATE_LIMIT_PER_SECOND)."""

    def has(self, scope: str) -> bool:
        return scope in self.scopes or ADMIN in self.scopes


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_scopes(scopes: list[str] | tuple[str, ...], where: str) -> frozenset[str]:
    if not scopes:
        raise ValueError(f"{where}: give at least one scope ({', '.join(sorted(SCOPES))})")
    for scope in scopes:
        if scope not in SCOPES:
            raise ValueError(
                f"{where}: unknown scope '{scope}'; known scopes: {', '.join(sorted(SCOPES))}"
            )
    return frozenset(scopes)


def _check_rate(value: object, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{where}: requests_per_second must be a number above 0, got {value!r}")
    return float(value)


def create_token(
    name: str, scopes: list[str], path: Path, requests_per_second: float | None = None
) -> str:
    """Create a token, add its hash to the tokens file and return the token (shown once).
    ``requests_per_second`` gives the token a rate of its own.

    Raises ValueError for an empty name, an unknown scope or a rate not above 0.
    """
    if not name.strip() or not name.isprintable():
        raise ValueError(f"a token needs a name of printable characters, got {name!r}")
    granted = _check_scopes(scopes, "token")
    rate = _check_rate(requests_per_second, "token")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    created = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    entry = (
        "\n[[tokens]]\n"
        f"name = {json.dumps(name, ensure_ascii=False)}\n"
        f"scopes = [{', '.join(json.dumps(s) for s in sorted(granted))}]\n"
        f'sha256 = "{_hash(token)}"\n'
        f"created = {created}\n"
    )
    if rate is not None:
        entry += f"requests_per_second = {rate:g}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = path.read_text("utf-8") if path.exists() else "# idgraph API tokens (hashes)\n"
    # Write a new file and rename it over the old one: a reader never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(existing + entry)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return token


def load_tokens(path: Path) -> dict[str, Principal]:
    """Principals by token hash from a tokens file (none if it does not exist).

    Raises ConfigError naming the file for a file that cannot be read as tokens.
    """
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"cannot read the tokens file: {error}", path=str(path)) from None
    entries = doc.get("tokens", [])
    if not isinstance(entries, list):
        raise ConfigError("must be a list of [[tokens]] tables", path=str(path), field="tokens")
    by_hash: dict[str, Principal] = {}
    for number, entry in enumerate(entries, start=1):
        where = f"tokens #{number}"
        if not isinstance(entry, dict):
            raise ConfigError("must be a [[tokens]] table", path=str(path), field=where)
        name, scopes, digest = (entry.get(k) for k in ("name", "scopes", "sha256"))
        if not isinstance(name, str) or not isinstance(digest, str) or not isinstance(scopes, list):
            raise ConfigError("needs name, scopes and sha256", path=str(path), field=where)
        try:
            by_hash[digest] = Principal(
                name,
                _check_scopes(scopes, f"token '{name}'"),
                _check_rate(entry.get("requests_per_second"), f"token '{name}'"),
            )
        except ValueError as error:
            raise ConfigError(str(error), path=str(path), field=where) from None
    return by_hash


class TokenRegistry:
    """The tokens of the tokens file (re-read whenever it changes) and the dev token."""

    def __init__(self, path: Path, dev_token: str | None = None) -> None:
        self.path = path
        self._dev_token = dev_token
        self._lock = threading.Lock()
        self._signature: tuple[int, int, int] | None = None
        self._by_hash: dict[str, Principal] = load_tokens(path)
        self._signature = self._stat()

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _refresh(self) -> None:
        signature = self._stat()
        if signature == self._signature:
            return
        with self._lock:
            if signature == self._signature:
                return
            try:
                self._by_hash = load_tokens(self.path)
            except ConfigError as error:
                # Fail closed: a broken file must not leave removed tokens working.
                log.error("%s; no file tokens are accepted until it is fixed", error)
                self._by_hash = {}
            self._signature = signature

    def has_tokens(self) -> bool:
        self._refresh()
        return bool(self._by_hash) or self._dev_token is not None

    def authenticate(self, token: str) -> Principal | None:
        """The principal a bearer token stands for, or None."""
        if self._dev_token is not None and hmac.compare_digest(
            token.encode("utf-8"), self._dev_token.encode("utf-8")
        ):
            return Principal(DEV_ACTOR, frozenset({ADMIN}))
        self._refresh()
        # The lookup key is a hash of the presented token, so timing reveals nothing about
        # stored tokens.
        return self._by_hash.get(_hash(token))


bearer = HTTPBearer(
    auto_error=False, description="An API token (`idgraph token create`) or the dev token."
)


def optional_principal(
    request: HTTPConnection, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> Principal | None:
    """The caller, or None when there is no valid bearer token."""
    if credentials is None:
        return None
    registry: TokenRegistry = request.app.state.tokens
    principal = registry.authenticate(credentials.credentials)
    if principal is not None:
        # Every authenticated request counts, REST and GraphQL alike; 429 past the rate.
        limiter: RequestLimiter = request.app.state.request_limiter
        limiter.admit(principal.name, principal.requests_per_second)
    return principal


def unauthenticated() -> ApiError:
    return ApiError(
        401,
        "UNAUTHENTICATED",
        "a valid API token is required: send 'Authorization: Bearer TOKEN'",
        headers={"WWW-Authenticate": "Bearer"},
    )


def authenticated(principal: Principal | None = Depends(optional_principal)) -> Principal:
    """The caller; 401 without a valid bearer token."""
    if principal is None:
        raise unauthenticated()
    return principal


def require(scope: str) -> Callable[..., Principal]:
    """A dependency giving the caller if their token has ``scope`` (401 or 403 otherwise)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope '{scope}'")

    def dependency(principal: Principal = Depends(authenticated)) -> Principal:
        if not principal.has(scope):
            raise ApiError(
                403, "FORBIDDEN", f"this needs the '{scope}' scope, which the token lacks"
            )
        return principal

    return dependency
