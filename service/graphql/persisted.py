"""Persisted queries: a frontend sends the SHA-256 of a query in place of its text.

Two sources of texts, looked up in this order:

- a manifest registered at start-up (``IDGRAPH_GRAPHQL_PERSISTED_QUERIES``): Apollo's
  persisted query manifest, or a plain ``{"<sha256>": "<query>"}`` object; with
  ``IDGRAPH_GRAPHQL_PERSISTED_ONLY`` it is a safelist and nothing else runs;
- Apollo's automatic persisted queries (APQ): a hash the process has not seen is answered
  ``PERSISTED_QUERY_NOT_FOUND`` (message ``PersistedQueryNotFound``, which Apollo Client
  and urql take as "send the text"); the hash sent with its text is checked and kept, at
  most ``IDGRAPH_GRAPHQL_PERSISTED_CACHE_SIZE`` texts per process, once the query has
  parsed and validated.

The text is put in the request before anything reads it (:class:`PersistedQueryResolver`
is the first extension), so a persisted query meets every limit and fills the same
parse, validation and cost caches as the text sent in full.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphql import (
    ASTValidationRule,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    parse,
    specified_rules,
    validate,
)
from strawberry.extensions import SchemaExtension

from identity.errors import ConfigError

MANIFEST_FORMAT = "apollo-persisted-query-manifest"
SETTING = "IDGRAPH_GRAPHQL_PERSISTED_QUERIES"
_HASH = re.compile(r"[0-9a-fA-F]{64}")


def query_hash(query: str) -> str:
    """The SHA-256 of a query text, as hex (what Apollo's clients send)."""
    return hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class Manifest:
    """The registered query texts by their hash (lower case), and where each is written."""

    queries: dict[str, str]
    path: Path | None = None
    entries: dict[str, str] = field(default_factory=dict)
    """Where each hash's entry is in the file, for errors: ``operations[3] (Lookup)``."""

    def check(self, schema: GraphQLSchema, rules: Sequence[type[ASTValidationRule]]) -> None:
        """Every query validates against ``schema`` with the standard rules and ``rules``
        (the server's own: depth, introspection), else a :class:`ConfigError` naming the
        entry: a stale manifest fails at start-up, not on each request."""
        for key, text in self.queries.items():
            errors = validate(schema, parse(text), [*specified_rules, *rules])
            if errors:
                raise ConfigError(
                    f"the query does not validate against the schema: {errors[0].message}",
                    path=str(self.path) if self.path else None,
                    field=self.entries.get(key, key),
                )


def load_manifest(path: Path) -> Manifest:
    """The query texts of a manifest file by their hash; a :class:`ConfigError` naming the
    file and the entry for anything that would not run as registered (checked against the
    schema by :meth:`Manifest.check`)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(
            f"cannot read the persisted query manifest: {error.strerror}", path=str(path)
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(
            f"the persisted query manifest is not JSON: {error}", path=str(path)
        ) from None
    if not isinstance(document, dict):
        raise ConfigError(
            f'a persisted query manifest is an object: {{"format": "{MANIFEST_FORMAT}", ...}} '
            'or {"<sha256>": "<query>", ...}',
            path=str(path),
        )
    if "format" in document or "operations" in document:
        entries = _apollo_entries(document, path)
    else:
        entries = [(f"[{json.dumps(key)}]", key, body) for key, body in document.items()]
    found = Manifest({}, path)
    for where, key, body in entries:
        checked = _checked(where, key, body, path)
        found.queries[checked] = body
        found.entries[checked] = where
    return found


def _apollo_entries(document: dict[str, Any], path: Path) -> list[tuple[str, Any, Any]]:
    if document.get("format") != MANIFEST_FORMAT:
        raise ConfigError(
            f"unknown manifest format {document.get('format')!r}; expected {MANIFEST_FORMAT!r}",
            path=str(path),
            field="format",
        )
    if document.get("version") != 1:
        raise ConfigError(
            f"unsupported manifest version {document.get('version')!r}; expected 1",
            path=str(path),
            field="version",
        )
    operations = document.get("operations")
    if not isinstance(operations, list):
        raise ConfigError(
            "'operations' must be a list of {id, body, name}", path=str(path), field="operations"
        )
    entries: list[tuple[str, Any, Any]] = []
    for index, operation in enumerate(operations):
        where = f"operations[{index}]"
        if not isinstance(operation, dict):
            raise ConfigError(
                "an operation is an object {id, body, name}", path=str(path), field=where
            )
        name = operation.get("name")
        if isinstance(name, str) and name:
            where = f"{where} ({name})"
        entries.append((where, operation.get("id"), operation.get("body")))
    return entries


def _checked(where: str, key: Any, body: Any, path: Path) -> str:
    """The entry's hash, lower case, once its id is the SHA-256 of a body that parses."""
    if not isinstance(key, str) or not _HASH.fullmatch(key):
        raise ConfigError(
            f"the id {key!r} is not a SHA-256 in hex (64 characters)", path=str(path), field=where
        )
    if not isinstance(body, str) or not body.strip():
        raise ConfigError("the body must be the query text", path=str(path), field=where)
    actual = query_hash(body)
    if actual != key.lower():
        raise ConfigError(
            f"the id {key} is not the SHA-256 of the body ({actual}); regenerate the manifest",
            path=str(path),
            field=where,
        )
    try:
        parse(body)
    except GraphQLSyntaxError as error:
        raise ConfigError(
            f"the body is not GraphQL: {error.message}", path=str(path), field=where
        ) from None
    return actual


def _refuse(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


class PersistedQueries:
    """The registered texts and the texts APQ kept, least recently used out first."""

    def __init__(
        self,
        manifest: Manifest | None = None,
        cache_size: int = 1000,
        only: bool = False,
    ) -> None:
        self.registered = manifest if manifest is not None else Manifest({})
        self.manifest = self.registered.queries
        self.cache_size = cache_size
        self.only = only
        self._kept: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def resolve(
        self, query: str | None, extensions: Mapping[str, Any] | None
    ) -> tuple[str | None, str | None]:
        """The text to run, and the hash to keep it under once it validates (None: it is
        registered already, or was not sent with a hash). A GraphQL error when it may not run."""
        wanted = _persisted_hash(extensions)
        if wanted is None:
            if query and self.only and query_hash(query) not in self.manifest:
                raise _refuse(
                    "this server runs only registered queries (IDGRAPH_GRAPHQL_PERSISTED_ONLY): "
                    "send extensions.persistedQuery.sha256Hash of a query in the manifest "
                    f"({SETTING})",
                    "PERSISTED_QUERY_REQUIRED",
                )
            return query, None
        if query:
            actual = query_hash(query)
            if actual != wanted:
                raise _refuse(
                    f"the query's SHA-256 is {actual}, not the sha256Hash sent ({wanted}); "
                    "hash the exact text sent, UTF-8 encoded",
                    "PERSISTED_QUERY_HASH_MISMATCH",
                )
        registered = self.manifest.get(wanted)
        if registered is not None:
            return registered, None
        if self.only:
            if query:
                raise _refuse(
                    "this query is not in the manifest of registered queries, the only ones "
                    f"this server runs (IDGRAPH_GRAPHQL_PERSISTED_ONLY, {SETTING})",
                    "PERSISTED_QUERY_REQUIRED",
                )
            raise _refuse("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
        if self.cache_size <= 0:
            raise _refuse("PersistedQueryNotSupported", "PERSISTED_QUERY_NOT_SUPPORTED")
        if query:
            return query, wanted
        with self._lock:
            kept = self._kept.get(wanted)
            if kept is not None:
                self._kept.move_to_end(wanted)
                return kept, None
        raise _refuse("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")

    def keep(self, key: str, query: str) -> None:
        """Keep a text under its hash (checked by :meth:`resolve`)."""
        with self._lock:
            self._kept[key] = query
            self._kept.move_to_end(key)
            while len(self._kept) > self.cache_size:
                self._kept.popitem(last=False)


def _persisted_hash(extensions: Mapping[str, Any] | None) -> str | None:
    """The hash of ``extensions.persistedQuery``, lower case; None without one."""
    if not isinstance(extensions, Mapping):
        return None  # the HTTP view refuses extensions that are not an object
    persisted = extensions.get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict):
        raise _refuse(
            'extensions.persistedQuery must be {"version": 1, "sha256Hash": "<hex>"}',
            "PERSISTED_QUERY_INVALID",
        )
    if persisted.get("version") != 1:
        raise _refuse(
            f"persisted query version {persisted.get('version')!r} is not supported; send 1",
            "PERSISTED_QUERY_INVALID",
        )
    wanted = persisted.get("sha256Hash")
    if not isinstance(wanted, str) or not _HASH.fullmatch(wanted):
        raise _refuse(
            "extensions.persistedQuery.sha256Hash must be the query's SHA-256 in hex "
            "(64 characters)",
            "PERSISTED_QUERY_INVALID",
        )
    return wanted.lower()


class PersistedQueryResolver(SchemaExtension):
    """Puts the text of a persisted query in the request before anything reads it, and
    keeps a text sent with its hash once it has validated (it is about to run)."""

    def __init__(self, queries: PersistedQueries) -> None:
        self.queries = queries
        self._pending: str | None = None

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.query, self._pending = self.queries.resolve(
            context.query, context.operation_extensions
        )
        yield

    def on_execute(self) -> Iterator[None]:
        # Reached only by a document that parsed, met the limits and validated.
        if self._pending is not None and self.execution_context.query:
            self.queries.keep(self._pending, self.execution_context.query)
        yield
