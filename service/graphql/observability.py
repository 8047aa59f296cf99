"""Each GraphQL operation counted and timed by name (:class:`service.metrics.GraphQLMetrics`):
all of GraphQL is one HTTP route, which says nothing about which operations are slow."""

from __future__ import annotations

import time
from collections.abc import Iterator

from graphql import GraphQLError, OperationType
from strawberry.extensions import SchemaExtension

from service.metrics import GraphQLMetrics

REFUSED = frozenset({"QUERY_TOO_LARGE", "QUERY_TOO_COMPLEX", "RATE_LIMITED"})
"""Codes of requests turned away by the limits before they ran."""


class OperationMetrics(SchemaExtension):
    """Observes the whole operation, parse and validation included, with its outcome:
    ``ok``, ``error`` (answered with errors) or ``refused`` (by the limits)."""

    def __init__(self, metrics: GraphQLMetrics) -> None:
        self.metrics = metrics

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        outcome = "error"
        try:
            yield
            context = self.execution_context
            errors = context.result.errors if context.result else context.pre_execution_errors
            outcome = _outcome(errors or [])
        except GraphQLError as error:  # a limit refused it before it ran
            outcome = _outcome([error])
            raise
        finally:
            context = self.execution_context
            try:
                kind = context.operation_type.value
            except RuntimeError:  # no document (it did not parse, or was never read)
                kind = OperationType.QUERY.value
            label = self.metrics.label(context.operation_name, context.query)
            self.metrics.observe(label, kind, outcome, time.perf_counter() - started)


def _outcome(errors: list[GraphQLError]) -> str:
    codes = {(e.extensions or {}).get("code") for e in errors}
    return "refused" if codes & REFUSED else "error" if errors else "ok"
