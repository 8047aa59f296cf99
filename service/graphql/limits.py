"""What a GraphQL request may ask for, checked after parsing and before validation.

Validation and execution both expand fragments, so a 1 KB document whose fragments each
spread the next twice costs 2^n before any resolver runs; aliases multiply an expensive
field. The analysis here walks each fragment once (memoised), so counting is linear in
the document however many times its fragments expand, and refuses before graphql-core's
validation (which is where a fragment chain used to freeze the server).

Both counts depend only on the query text, the operation and the variables a ``first`` or
flag reads, so :class:`DocumentCosts` keeps them per text: a repeated query is analysed
once, while the caps and the budget still apply to every request.

A request's cost: every object field costs 1, a scalar costs nothing, a field listed in
:data:`FIELD_COSTS` costs what it says, and a field taking ``first`` multiplies what it
selects by ``first`` (the argument, or its default in the schema). A token's requests
draw on a budget per minute (:class:`CostBudget`), so many cheap requests cannot do what
one expensive request may not.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
)
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from identity import deadline
from service.ratelimit import TokenBuckets, retry_after

FIELD_COSTS: Mapping[str, int] = {
    # Whole-store work: the ranking is recomputed (seconds per 10,000 profiles).
    "Query.suspiciousClusters(refresh)": 4000,
    # A rule change's dry run: a rebase in a rolled-back transaction that reads every profile.
    "Query.previewRules": 4000,
    # The quality page: a few whole-store aggregates (seconds at a million records).
    "Query.quality": 500,
    # Graph walks over one cluster (up to maxRecords records) with path search.
    "Query.cluster": 50,
    "Query.explainLink": 50,
    # A handful of index lookups, then up to max_block_size records per key compared.
    "Query.searchProfiles": 30,
    # Cursor-paged reads: a fixed cost for the page, on top of what each item selects.
    "Query.suspiciousClusters": 10,
    "Query.reviewQueue": 20,
    "Query.profileChanges": 10,
    "Query.auditLog": 10,
    "Profile.journey": 10,
    "Segment.members": 10,
    "Segment.changes": 10,
    # One index lookup then a profile read.
    "Query.profileByIdentifier": 2,
    "Query.profilesByIdentifier": 2,
}
"""Costs of the fields that do more than read one row; ``Type.field(argument)`` applies
when that boolean argument is true, in place of ``Type.field``."""


@dataclass(frozen=True, slots=True)
class GraphQLLimits:
    """The caps of one request and the budget of one token (settings ``graphql_*``)."""

    max_bytes: int = 50_000
    max_tokens: int = 4_000
    max_depth: int = 10
    max_aliases: int = 100
    max_fragment_spreads: int = 500
    max_cost: int = 10_000
    max_page_size: int = 1000
    cost_per_minute: int = 300_000
    time_budget_seconds: float = 10.0


@dataclass(frozen=True, slots=True)
class DocumentCost:
    """What a document asks for once every fragment spread is expanded."""

    cost: int = 0
    aliases: int = 0
    spreads: int = 0
    largest_page: int = 0
    """The largest ``first`` asked of any list (its default where not given)."""

    def __add__(self, other: DocumentCost) -> DocumentCost:
        return DocumentCost(
            self.cost + other.cost,
            self.aliases + other.aliases,
            self.spreads + other.spreads,
            max(self.largest_page, other.largest_page),
        )


class _Analysis:
    """One pass over one operation, each fragment costed once."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any],
        costs: Mapping[str, int],
    ) -> None:
        self.schema = schema
        self.variables = variables
        self.costs = costs
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.memo: dict[str, DocumentCost] = {}
        self.read: set[str] = set()
        """Names of the variables the cost depends on (a ``first`` or a flag)."""
        # Costed dependencies first, without recursion: a chain of a thousand fragments
        # is deeper than Python's stack. Cyclic and unknown spreads count nothing here;
        # validation names them.
        for name in _dependency_order(self.fragments):
            definition = self.fragments[name]
            self.memo[name] = self.selection_set(
                definition.selection_set,
                self.schema.get_type(definition.type_condition.name.value),
            )

    def selection_set(
        self, selections: SelectionSetNode | None, parent: GraphQLNamedType | None
    ) -> DocumentCost:
        total = DocumentCost()
        if selections is None:
            return total
        for node in selections.selections:
            if isinstance(node, FieldNode):
                total += self.field(node, parent)
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selection_set(node.selection_set, inner)
            elif isinstance(node, FragmentSpreadNode):
                total += DocumentCost(spreads=1) + self.memo.get(node.name.value, DocumentCost())
        return total

    def field(self, node: FieldNode, parent: GraphQLNamedType | None) -> DocumentCost:
        name = node.name.value
        definition = parent.fields.get(name) if isinstance(parent, GraphQLObjectType) else None
        child = get_named_type(definition.type) if definition is not None else None
        inner = self.selection_set(node.selection_set, child)
        key = f"{parent.name}.{name}" if parent is not None else name
        own = self.costs.get(key, 1 if node.selection_set is not None else 0)
        for flag in (a.name.value for a in node.arguments or ()):
            if f"{key}({flag})" in self.costs and self._value(node, flag, None) is True:
                own = self.costs[f"{key}({flag})"]
        times = 1
        if definition is not None and "first" in definition.args:
            first = self._value(node, "first", definition.args["first"].default_value)
            times = first if isinstance(first, int) and first > 0 else 1
        return DocumentCost(
            cost=own + times * inner.cost,
            aliases=inner.aliases + (1 if node.alias is not None else 0),
            spreads=inner.spreads,
            largest_page=max(inner.largest_page, times if times > 1 else 0),
        )

    def _value(self, node: FieldNode, argument: str, default: Any) -> Any:
        for arg in node.arguments or ():
            if arg.name.value == argument:
                return self._literal(arg.value)
        return default

    def _literal(self, value: ValueNode) -> Any:
        if isinstance(value, VariableNode):
            self.read.add(value.name.value)
            return self.variables.get(value.name.value)
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, BooleanValueNode):
            return value.value
        return None


def _spreads(selections: SelectionSetNode) -> list[str]:
    """The fragments a selection set spreads, at any depth of its own fields."""
    found: list[str] = []
    stack = [selections]
    while stack:
        for node in stack.pop().selections:
            if isinstance(node, FragmentSpreadNode):
                found.append(node.name.value)
            elif isinstance(node, FieldNode | InlineFragmentNode) and node.selection_set:
                stack.append(node.selection_set)
    return found


def _dependency_order(fragments: Mapping[str, FragmentDefinitionNode]) -> list[str]:
    """Fragment names, each after every fragment it spreads (cycles broken anywhere)."""
    order: list[str] = []
    state: dict[str, bool] = {}  # False: on the path, True: done
    for start in fragments:
        if start in state:
            continue
        state[start] = False
        stack = [(start, iter(_spreads(fragments[start].selection_set)))]
        while stack:
            name, pending = stack[-1]
            step = next((s for s in pending if s in fragments and s not in state), None)
            if step is None:
                stack.pop()
                state[name] = True
                order.append(name)
            else:
                state[step] = False
                stack.append((step, iter(_spreads(fragments[step].selection_set))))
    return order


def document_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
    costs: Mapping[str, int] = FIELD_COSTS,
) -> DocumentCost:
    """The cost of the operation that will run (the named one, else every operation: an
    unnamed document with several is refused by validation anyway)."""
    return _analyse(schema, document, variables or {}, operation_name, costs)[0]


def _analyse(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any],
    operation_name: str | None,
    costs: Mapping[str, int],
) -> tuple[DocumentCost, frozenset[str]]:
    """The cost, and the names of the variables it was computed from."""
    analysis = _Analysis(schema, document, variables, costs)
    total = DocumentCost()
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if operation_name and (definition.name is None or definition.name.value != operation_name):
            continue
        root = schema.get_root_type(definition.operation)
        total += analysis.selection_set(definition.selection_set, root)
    return total, frozenset(analysis.read)


def _value_key(value: Any) -> tuple[str, Any]:
    # Only an int (``first``) or a boolean (a flag) changes a cost; the type is part of
    # the key because True == 1 in Python but not in GraphQL.
    return (type(value).__name__, value if isinstance(value, int) else None)


@dataclass(slots=True)
class _Costed:
    variables: tuple[str, ...]
    by_values: dict[tuple[tuple[str, Any], ...], DocumentCost]


class DocumentCosts:
    """The costs of the query texts seen last, at most ``maxsize`` texts (least recently
    used out first), each for at most a few sets of the variables its cost reads.

    A cost is computed against a schema's types, so the schema is part of the key.
    """

    values_per_text = 8

    def __init__(self, maxsize: int, costs: Mapping[str, int] = FIELD_COSTS) -> None:
        self.maxsize = maxsize
        self.costs = costs
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[tuple[GraphQLSchema, str, str | None], _Costed] = OrderedDict()
        self._lock = threading.Lock()

    def cost(
        self,
        schema: GraphQLSchema,
        query: str,
        document: DocumentNode,
        variables: Mapping[str, Any] | None,
        operation_name: str | None,
    ) -> DocumentCost:
        """The cost of ``document`` (parsed from ``query``) with these variables."""
        variables = variables or {}
        key = (schema, query, operation_name)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                values = tuple(_value_key(variables.get(n)) for n in entry.variables)
                found = entry.by_values.get(values)
                if found is not None:
                    self.hits += 1
                    return found
            self.misses += 1
        found, read = _analyse(schema, document, variables, operation_name, self.costs)
        if self.maxsize <= 0:
            return found
        names = tuple(sorted(read))
        values = tuple(_value_key(variables.get(n)) for n in names)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.variables != names:
                entry = self._entries[key] = _Costed(names, {})
            if len(entry.by_values) >= self.values_per_text:
                entry.by_values.pop(next(iter(entry.by_values)))
            entry.by_values[values] = found
            self._entries.move_to_end(key)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
        return found


class CostBudget:
    """Cost units per caller: ``per_minute`` of them, refilled continuously."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._buckets = TokenBuckets(per_minute / 60.0, float(per_minute), clock)

    def spend(self, caller: str, cost: int) -> float:
        """Take ``cost`` from the caller's budget: 0 when granted, else the seconds until
        the budget holds that much again (nothing is taken)."""
        return self._buckets.take(caller, cost)


def _refuse(message: str, code: str, **extra: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extra})


class QueryLimits(SchemaExtension):
    """Refuses documents over the caps before validation, and callers over their budget.

    Every refusal is a GraphQL error whose ``extensions.code`` names the limit and whose
    message names the setting that raises it.
    """

    def __init__(self, limits: GraphQLLimits, budget: CostBudget, costs: DocumentCosts) -> None:
        self.limits = limits
        self.budget = budget
        self.costs = costs

    def on_operation(self) -> Iterator[None]:
        query = self.execution_context.query or ""
        size = len(query.encode("utf-8", "surrogatepass"))
        if size > self.limits.max_bytes:
            raise _refuse(
                f"the query is {size:,} bytes, above the limit of {self.limits.max_bytes:,} "
                "(IDGRAPH_GRAPHQL_MAX_BYTES)",
                "QUERY_TOO_LARGE",
            )
        self.execution_context.parse_options["max_tokens"] = self.limits.max_tokens
        yield

    def on_parse(self) -> Iterator[None]:
        yield
        document = self.execution_context.graphql_document
        if document is None:
            return
        context = self.execution_context
        found = self.costs.cost(
            context.schema._schema,
            context.query or "",
            document,
            context.variables,
            context.operation_name,
        )
        limits = self.limits
        if found.spreads > limits.max_fragment_spreads:
            raise _refuse(
                f"the query expands to {_count(found.spreads)} fragment spreads, above the "
                f"limit of {limits.max_fragment_spreads:,} (IDGRAPH_GRAPHQL_MAX_FRAGMENT_SPREADS)",
                "QUERY_TOO_COMPLEX",
                limit="fragmentSpreads",
            )
        if found.aliases > limits.max_aliases:
            raise _refuse(
                f"the query has {_count(found.aliases)} aliases, above the limit of "
                f"{limits.max_aliases:,} (IDGRAPH_GRAPHQL_MAX_ALIASES)",
                "QUERY_TOO_COMPLEX",
                limit="aliases",
            )
        if found.largest_page > limits.max_page_size:
            raise _refuse(
                f"the query asks for a page of {found.largest_page:,} (first), above the limit "
                f"of {limits.max_page_size:,} (IDGRAPH_GRAPHQL_MAX_PAGE_SIZE); page with after",
                "QUERY_TOO_COMPLEX",
                limit="pageSize",
            )
        if found.cost > limits.max_cost:
            raise _refuse(
                f"the query costs {_count(found.cost)}, above the limit of {limits.max_cost:,} "
                "per request (IDGRAPH_GRAPHQL_MAX_COST); ask for smaller pages or fewer fields",
                "QUERY_TOO_COMPLEX",
                limit="cost",
                cost=found.cost,
            )
        caller = getattr(getattr(context.context, "principal", None), "name", None)
        if caller is not None:
            wait = self.budget.spend(caller, found.cost)
            if wait > 0:
                # Over HTTP, the answer is a 429 with Retry-After, as a request over the
                # token's request rate is; a batch's answer holds other operations' results.
                response = getattr(context.context, "response", None)
                if response is not None and not getattr(context.context, "batch", False):
                    response.status_code = 429
                    response.headers["Retry-After"] = retry_after(wait)
                raise _refuse(
                    f"this token has used its budget of {self.budget.per_minute:,} cost units "
                    f"per minute (IDGRAPH_GRAPHQL_COST_PER_MINUTE); retry in {retry_after(wait)} s",
                    "RATE_LIMITED",
                    limit="costPerMinute",
                    retryAfter=int(retry_after(wait)),
                )


def _count(value: int) -> str:
    """A count as a reader takes it in: 1,024 or, past a billion, 2^30 style."""
    return f"{value:,}" if value < 10**9 else f"about 2^{value.bit_length() - 1}"


class TimeBudget(SchemaExtension):
    """Gives each query operation ``seconds`` (``IDGRAPH_GRAPHQL_TIME_BUDGET_SECONDS``): the
    store stops a statement still running at the end, and the fields not resolved by then
    answer TIMEOUT. Mutations have none: a write runs to its end or rolls back, and is
    never left running behind an error."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def on_execute(self) -> Iterator[None]:
        if self.execution_context.operation_type is not OperationType.QUERY:
            yield
            return
        with deadline.within(self.seconds, "IDGRAPH_GRAPHQL_TIME_BUDGET_SECONDS"):
            yield
