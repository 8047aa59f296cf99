"""GraphQL, fuzzed: operations built from the schema itself, sent over HTTP with tokens of
every scope, over a store holding a few known people.

Each operation picks root fields of the schema's Query or Mutation type (so a new field
is fuzzed as soon as it exists), a random selection of the fields of each type it
returns (inline fragments for unions and interfaces), and random arguments: the known
people's ids, identifiers and record refs, unknown ones, unicode, huge and negative
numbers, values of the wrong type, given as literals or as variables (declared with the
argument's type, or with another). What must hold for any of them:

- no answer is a 5xx, and none carries ``INTERNAL`` (an unexpected exception, masked);
- every answer is a GraphQL response: ``data`` and/or ``errors``, each error with
  ``extensions.code`` (a request refused before GraphQL runs, such as a body too large,
  answers the service's error body with a documented code);
- with a token without ``pii:read``, no answer holds a known person's e-mail address,
  phone number (as ingested, in E.164, as digits) or first or last name, unless the
  request itself carried that value (an error may quote the caller's own input).

60 examples per test by default (the file runs in a few seconds);
``IDGRAPH_GRAPHQL_FUZZ_EXAMPLES`` searches longer.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
)
from hypothesis import HealthCheck, given, settings, target
from hypothesis import strategies as st

from identity.graph import IdentityGraph
from identity.mapping import SourceMapping
from identity.rules import rules_text
from service.auth import create_token
from service.graphql.schema import create_graphql_router
from tests.service.conftest import ROLES, Api

EXAMPLES = int(os.environ.get("IDGRAPH_GRAPHQL_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    # The API and its store are shared by a test's examples on purpose: mutations change
    # what later operations read, and every answer is held to the same rules.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

SCHEMA: GraphQLSchema = create_graphql_router().schema._schema

# -- the known people -----------------------------------------------------------------------

PEOPLE_SOURCE: dict[str, Any] = {
    "source": "people",
    "key": "id",
    "phone_region": "GB",
    "priority": 70,
    "identifiers": {"email": "email", "phone": "phone"},
    "attributes": {
        "first": {"name": "first_name", "type": "name"},
        "last": {"name": "last_name", "type": "name"},
        "town": "city",
    },
}


@dataclass(frozen=True)
class Person:
    key: str
    first: str
    last: str
    email: str
    phone: str
    """As ingested (national form)."""
    e164: str

    def secrets(self) -> list[str]:
        """Every form of this person's personal values an answer must not show unmasked."""
        digits = re.sub(r"\D", "", self.phone)
        return [
            self.email,
            self.email.lower(),
            self.phone,
            self.e164,
            digits,
            self.e164.lstrip("+"),
            self.first,
            self.last,
        ]


PEOPLE = [
    Person(
        "p-1",
        "Quintessa",
        "Vandermolen",
        "Quintessa.V@Example.com",
        "07400 123456",
        "+447400123456",
    ),
    Person(
        "p-2", "Ebenezer", "Thistlewood", "ebenezer.t@example.org", "020 7946 0958", "+442079460958"
    ),
    Person("p-3", "Marisol", "Quigleyfield", "mq@example.net", "07912 345678", "+447912345678"),
]
SECRETS = sorted({s for p in PEOPLE for s in p.secrets()}, key=len, reverse=True)
SCOPES_OF = ROLES | {"all_but_pii": ["profiles:read", "segments:read", "steward:write"]}
"""The conftest's roles, and one that reads everything GraphQL serves but personal data."""
NO_PII_ROLES = sorted(
    role
    for role, scopes in SCOPES_OF.items()
    # privacy:read answers access requests: one person's data in full, by design
    # (personData; docs/privacy.md).
    if not {"pii:read", "admin", "privacy:read"} & set(scopes)
)
ALL_ROLES = sorted(SCOPES_OF)


@dataclass
class Known:
    """What the fuzz may name: the store's ids and refs, found after ingest."""

    profile_ids: list[str] = field(default_factory=list)
    record_refs: list[dict[str, str]] = field(default_factory=list)
    segments: list[str] = field(default_factory=list)


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    """The API without the per-minute cost budget, which a long search would spend (429
    is an answer, but one that stops every later example from reaching the resolvers)."""
    return make_api(graphql_cost_per_minute=0)


@pytest.fixture
def known(api: Api, graph: IdentityGraph, tokens_file: Path) -> Known:
    api.tokens["all_but_pii"] = create_token("all_but_pii", SCOPES_OF["all_but_pii"], tokens_file)
    graph.ingest.register_source(SourceMapping.from_document(PEOPLE_SOURCE, rules=graph.rules))
    api.ingest(
        "people",
        [
            {
                "id": p.key,
                "email": p.email,
                "phone": p.phone,
                "first": p.first,
                "last": p.last,
                "town": "Leeds",
            }
            for p in PEOPLE
        ],
    )
    # A CRM record of the first person (one profile of two records) and a shop record
    # sharing the second's phone.
    api.ingest(
        "crm",
        [{"customer_no": "C-1", "email": PEOPLE[0].email.upper(), "first_name": PEOPLE[0].first}],
    )
    api.ingest("shop", [{"id": "s-2", "phone": PEOPLE[1].phone, "first": PEOPLE[1].first}])
    api.post_events(
        [
            {
                "event_id": f"ev-{n}",
                "type": kind,
                "timestamp": "2026-03-01T10:00:00Z",
                "identifiers": {"email": p.email},
                "properties": {
                    "customerEmail": p.email,
                    "FullName": f"{p.first} {p.last}",
                    "gift_message": f"call me on {p.phone}",
                    "note": f"mail {p.email} or {p.e164}",
                    "order_value": 12.5,
                },
            }
            for n, (p, kind) in enumerate(
                [(PEOPLE[0], "purchase"), (PEOPLE[1], "page_view"), (PEOPLE[2], "purchase")]
            )
        ]
    )
    for name, where in [
        ("buyers", {"event": "purchase"}),
        ("leeds", {"attribute": "city", "eq": "Leeds"}),
    ]:
        defined = api.graphql(
            "mutation ($n: String!, $d: JSON!) "
            "{ defineSegment(name: $n, definition: $d) { __typename } }",
            role="admin",
            n=name,
            d={"where": where},
        )
        assert defined["data"]["defineSegment"]["__typename"] == "SegmentDefined", defined
    found = Known(segments=["buyers", "leeds"])
    for p in PEOPLE:
        for profile in graph.profiles.by_identifier("email", p.email):
            found.profile_ids.append(profile.id)
            found.record_refs += [
                {"source": r.record.source, "key": r.record.key} for r in profile.records
            ]
    assert len(found.profile_ids) == 3 and len(found.record_refs) == 5
    return found


# -- values for arguments -------------------------------------------------------------------

HUGE_INTS = [2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**53 + 1, 2**63, 10**30, -1, 0]
NASTY_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "\ud800",
        "Zoe\u0308",
        "🙂" * 3,
        "\u202e",
        "' OR 1=1 --",
        "MATCH (n) DETACH DELETE n",
        "a" * 5000,
        "%s%n",
        "null",
        "{}",
        "../../etc/passwd",
    ]
)
TEXT = st.one_of(st.text(max_size=12), NASTY_TEXT)
SAFE_TEXT = st.text(alphabet=st.characters(codec="ascii", categories=["L", "N", "Zs"]), max_size=20)
"""Text a steward might write as a reason: never a known person's value (a reason is kept
and shown back as written, so a fuzzed personal value in it would be the caller's own)."""


def rarely(draw: st.DrawFn, one_in: int) -> bool:
    """True once in ``one_in`` draws (the common case is the one hypothesis shrinks to)."""
    return draw(st.integers(0, one_in - 1)) == one_in - 1


def ints() -> st.SearchStrategy[int]:
    return st.one_of(
        st.sampled_from(HUGE_INTS), st.integers(min_value=-5, max_value=50), st.integers()
    )


@st.composite
def json_values(draw: st.DrawFn) -> Any:
    return draw(
        st.recursive(
            st.one_of(
                st.none(),
                st.booleans(),
                ints(),
                st.floats(allow_nan=False, allow_infinity=False),
                TEXT,
            ),
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
            max_leaves=8,
        )
    )


def definitions(known: Known) -> st.SearchStrategy[Any]:
    """Segment definitions: valid ones, near misses and anything at all."""
    return st.one_of(
        st.sampled_from(
            [
                {"where": {"event": "purchase"}},
                {"where": {"attribute": "city", "eq": "Leeds"}},
                {"where": {"all": [{"event": "purchase", "count": {"gte": 2**63}}]}},
                {"where": {"event": "purchase", "within_days": -1}},
                {"where": {"identifier": "email"}},
                {"where": {}},
                "not an object",
            ]
        ),
        json_values(),
    )


class Values:
    """Values for an argument, by its type and (for realism) its name."""

    def __init__(self, known: Known) -> None:
        self.known = known
        ids = [*known.profile_ids, "p-unknown", "00000000-0000-0000-0000-000000000000"]
        # Mostly the known people's profiles: their answers are where a leak would be.
        self.ids = st.one_of(st.sampled_from(known.profile_ids), st.sampled_from(ids), TEXT, ints())
        self.refs = st.one_of(
            st.sampled_from(known.record_refs),
            st.fixed_dictionaries(
                {"source": st.sampled_from(["people", "crm", "nope", ""]), "key": TEXT}
            ),
        )
        personal = [
            s for p in PEOPLE for s in (p.email, p.phone, p.e164, p.first, f"{p.first} {p.last}")
        ]
        self.strings = {
            "kind": st.sampled_from(["email", "phone", "customer_id", "cookie_id", "nope", ""]),
            "value": st.one_of(st.sampled_from([*personal, "C-1", "nobody@example.com"]), TEXT),
            "email": st.one_of(st.sampled_from([p.email for p in PEOPLE]), TEXT),
            "phone": st.one_of(
                st.sampled_from([p.phone for p in PEOPLE] + [p.e164 for p in PEOPLE]), TEXT
            ),
            # Names of attributes (a profile's `attribute(name:)`), of segments, of people.
            "attribute.name": st.one_of(
                st.sampled_from(["first_name", "last_name", "email", "phone", "city", "nope"]),
                TEXT,
            ),
            # Never a person's name: defineSegment keeps it, and segments shows it back to
            # any reader of segments as what it is, a segment's name.
            "name": st.one_of(st.sampled_from([*known.segments, "nope", "Q"]), TEXT),
            "searchProfiles.name": st.one_of(
                st.sampled_from([f"{p.first} {p.last}" for p in PEOPLE] + ["Q"]), TEXT
            ),
            "postcode": st.one_of(st.just("LS1 4AB"), TEXT),
            "birthDate": st.one_of(st.sampled_from(["1984-03-02", "1984", "31/02/1990"]), TEXT),
            "after": st.one_of(st.sampled_from(["", "abc", "eyJ4IjoxfQ==", "MA=="]), TEXT),
            "reason": SAFE_TEXT,
            "source": st.sampled_from(["people", "crm", "shop", "nope", ""]),
            "key": st.one_of(st.sampled_from(["p-1", "C-1", "s-2", ""]), TEXT),
            "actor": st.one_of(st.sampled_from(["admin", "steward"]), TEXT),
            "action": st.one_of(st.sampled_from(["merge", "split", "ingest"]), TEXT),
        }
        # Ints of a tame operation are ones the service takes; a wild one adds the edges
        # (0, -1, past the page limit, past 32 bits).
        self.tame_ints = {
            "first": st.sampled_from([10, 1, 2, 3, 50, 100, 1000]),
            "maxRecords": st.sampled_from([10, 1, 2, 50]),
            "alternatives": st.sampled_from([3, 0, 1, 10]),
            "actionId": st.integers(1, 12),
        }
        self.wild_ints = {
            "first": st.sampled_from([0, -1, 1001, 10**4 + 1, 2**31 - 1, 2**31]),
            "maxRecords": st.sampled_from([0, -1, 10**6, 2**31 - 1]),
            "alternatives": st.sampled_from([-1, 11, 10**6]),
            "actionId": st.sampled_from([0, -1, 10**6, 2**31 - 1, 2**31]),
        }

    def wrong(self) -> st.SearchStrategy[Any]:
        """A value of some other type."""
        return st.one_of(
            st.none(),
            st.booleans(),
            ints(),
            st.floats(allow_nan=False),
            TEXT,
            st.lists(ints(), max_size=2),
            st.just({"x": 1}),
        )

    def for_type(
        self, draw: st.DrawFn, type_: GraphQLInputType, name: str, wild: bool, where: str = ""
    ) -> Any:
        """A value of ``type_``; in a ``wild`` operation sometimes one of another type, an
        Int beyond 32 bits, an enum value that is not one."""
        if wild and rarely(draw, 8):
            return draw(self.wrong())
        if isinstance(type_, GraphQLNonNull):
            return self.for_type(draw, type_.of_type, name, wild, where)
        if isinstance(type_, GraphQLList):
            size = draw(st.integers(0, 3))
            return [self.for_type(draw, type_.of_type, name, wild, where) for _ in range(size)]
        if isinstance(type_, GraphQLEnumType):
            if wild and rarely(draw, 4):
                return "NOT_A_VALUE"
            return draw(st.sampled_from(sorted(type_.values)))
        if isinstance(type_, GraphQLInputObjectType):
            if type_.name == "RecordRefInput":
                return draw(self.refs)
            return {
                n: self.for_type(draw, f.type, n, wild)
                for n, f in type_.fields.items()
                if isinstance(f.type, GraphQLNonNull) or draw(st.booleans())
            }
        assert isinstance(type_, GraphQLScalarType)
        scalar = type_.name
        if scalar == "ID":
            return draw(self.ids)
        if scalar == "Int":
            if wild:
                return draw(st.one_of(self.wild_ints.get(name, ints()), ints()))
            return draw(self.tame_ints.get(name, st.integers(0, 20)))
        if scalar == "Float":
            return draw(st.one_of(st.floats(allow_nan=False, allow_infinity=False), ints()))
        if scalar == "Boolean":
            return draw(st.booleans())
        if scalar == "String":
            return draw(self.strings.get(where, self.strings.get(name, TEXT)))
        if scalar == "DateTime":
            return draw(
                st.sampled_from(["2026-03-01T10:00:00Z", "2026-03-01T10:00:00", "yesterday", ""])
            )
        if scalar == "JSON":
            return draw(definitions(self.known)) if name == "definition" else draw(json_values())
        return draw(TEXT)


# -- operations -----------------------------------------------------------------------------


def literal(value: Any, type_: GraphQLInputType | None) -> str:
    """``value`` written in GraphQL (enum values bare where the type says enum)."""
    named = get_named_type(type_) if type_ is not None else None
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if value == value and abs(value) != float("inf") else "0"
    if isinstance(value, str):
        if isinstance(named, GraphQLEnumType) and re.fullmatch(r"[A-Za-z_]\w*", value):
            return value
        return json.dumps(value)
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    if isinstance(value, list):
        item = inner.of_type if isinstance(inner, GraphQLList) else None
        return "[" + ", ".join(literal(v, item) for v in value) + "]"
    fields = inner.fields if isinstance(inner, GraphQLInputObjectType) else {}
    parts = []
    for k, v in value.items():
        if not re.fullmatch(r"[A-Za-z_]\w*", k):
            continue  # not a name GraphQL can write
        parts.append(f"{k}: {literal(v, fields[k].type if k in fields else None)}")
    return "{" + ", ".join(parts) + "}"


@dataclass
class Operation:
    kind: str
    wild: bool
    """Values of the wrong type, variables declared with another or not given, required
    arguments left out: most such operations end in validation, so one in three."""
    variables: dict[str, Any] = field(default_factory=dict)
    declarations: list[str] = field(default_factory=list)

    def document(self, selections: str) -> str:
        declared = f"({', '.join(self.declarations)})" if self.declarations else ""
        return f"{self.kind} fuzz{declared} {{ {selections} }}"


WRONG_DECLARED = ["String", "Int", "ID!", "[String]", "JSON", "Boolean!", "RecordRefInput"]


@st.composite
def arguments(
    draw: st.DrawFn, values: Values, op: Operation, field_name: str, f: GraphQLField
) -> str:
    parts = []
    for name, arg in f.args.items():
        required = isinstance(arg.type, GraphQLNonNull)
        if not required and not draw(st.booleans()):
            continue
        if required and op.wild and rarely(draw, 10):
            continue  # a required argument missing
        value = values.for_type(draw, arg.type, name, op.wild, f"{field_name}.{name}")
        if draw(st.booleans()):
            var = f"v{len(op.declarations)}"
            declared = str(arg.type)
            if op.wild and rarely(draw, 6):
                declared = draw(st.sampled_from(WRONG_DECLARED))
            op.declarations.append(f"${var}: {declared}")
            if not (op.wild and rarely(draw, 6)):
                op.variables[var] = value  # else declared but not given
            parts.append(f"{name}: ${var}")
        else:
            parts.append(f"{name}: {literal(value, arg.type)}")
    return f"({', '.join(parts)})" if parts else ""


@st.composite
def selection(
    draw: st.DrawFn, values: Values, op: Operation, type_: GraphQLOutputType, depth: int
) -> str:
    """A selection set for ``type_`` (empty for a leaf)."""
    named = get_named_type(type_)
    if isinstance(named, GraphQLScalarType | GraphQLEnumType):
        return ""
    if isinstance(named, GraphQLUnionType | GraphQLInterfaceType):
        possible = SCHEMA.get_possible_types(named)
        chosen = draw(st.lists(st.sampled_from(possible), max_size=3, unique_by=lambda t: t.name))
        parts = ["__typename"]
        for member in chosen:
            parts.append(f"... on {member.name} {draw(selection(values, op, member, depth))}")
        return "{ " + " ".join(parts) + " }"
    assert isinstance(named, GraphQLObjectType)
    names = sorted(named.fields)
    if depth >= 5:
        leaves = [
            n
            for n in names
            if isinstance(get_named_type(named.fields[n].type), GraphQLScalarType | GraphQLEnumType)
        ]
        names = leaves or names
    # A shuffle, not a list of draws: those favour the first names (a search would
    # select `attribute` of every profile and little else).
    chosen = draw(st.permutations(names))[: draw(st.integers(1, 6 if depth < 3 else 3))]
    parts = []
    for n in chosen:
        f = named.fields[n]
        inner = "" if depth >= 6 else draw(selection(values, op, f.type, depth + 1))
        if not inner and not isinstance(
            get_named_type(f.type), GraphQLScalarType | GraphQLEnumType
        ):
            inner = "{ __typename }"
        parts.append(f"{n}{draw(arguments(values, op, n, f))} {inner}")
    if draw(st.integers(0, 9)) == 0:
        parts.append("__typename")
    return "{ " + " ".join(parts) + " }"


def reaches_profiles(type_: GraphQLOutputType, seen: set[str] | None = None) -> bool:
    """Whether a type's fields lead, at any depth, to a Profile (and so to personal data)."""
    named = get_named_type(type_)
    seen = seen if seen is not None else set()
    if named.name == "Profile":
        return True
    if named.name in seen:
        return False
    seen.add(named.name)
    if isinstance(named, GraphQLUnionType | GraphQLInterfaceType):
        return any(reaches_profiles(t, seen) for t in SCHEMA.get_possible_types(named))
    if isinstance(named, GraphQLObjectType):
        return any(reaches_profiles(f.type, seen) for f in named.fields.values())
    return False


def roots(root: GraphQLObjectType | None) -> list[str]:
    """The root fields, those that lead to profiles first: hypothesis draws the first
    elements of a list most often, so a search spends itself where personal data is."""
    assert root is not None
    return sorted(root.fields, key=lambda n: (not reaches_profiles(root.fields[n].type), n))


ROOTS = {"query": roots(SCHEMA.query_type), "mutation": roots(SCHEMA.mutation_type)}


@st.composite
def operations(
    draw: st.DrawFn, values: Values, kinds: tuple[str, ...]
) -> tuple[str, dict[str, Any]]:
    kind = draw(st.sampled_from(kinds))
    root = SCHEMA.mutation_type if kind == "mutation" else SCHEMA.query_type
    assert root is not None
    op = Operation(kind, wild=rarely(draw, 3))
    fields = draw(st.lists(st.sampled_from(ROOTS[kind]), min_size=1, max_size=2, unique=True))
    parts = []
    for n in fields:
        f = root.fields[n]
        inner = draw(selection(values, op, f.type, 1))
        parts.append(f"{n}{draw(arguments(values, op, n, f))} {inner}")
    return op.document(" ".join(parts)), op.variables


# -- the rules every answer keeps -----------------------------------------------------------


def send(api: Api, role: str, query: str, variables: dict[str, Any], method: str = "POST") -> Any:
    if method == "GET":
        params = {"query": query, "variables": json.dumps(variables)}
        return api.client.get("/graphql", params=params, headers=api.auth(role))
    body = json.dumps({"query": query, "variables": variables}).encode()
    return api.client.post(
        "/graphql", content=body, headers={"Content-Type": "application/json", **api.auth(role)}
    )


PLAIN_400 = {"mutations are not allowed when using GET", "No GraphQL query found in the request"}


def problems(response: Any, request: str, reveals: bool) -> tuple[dict[str, Any], list[str]]:
    """The answer's body and what is wrong with it: a failure (5xx, ``INTERNAL``), an
    answer that is not GraphQL, or a personal value shown where it should not be."""
    text = response.text
    found: list[str] = []
    if response.status_code >= 500:
        return {}, [f"{response.status_code}: {text} for {request}"]
    body: dict[str, Any] = {}
    if response.headers["content-type"].startswith("text/plain"):
        # Documented (docs/api.md, Errors): the GraphQL library's own 400s.
        if not (response.status_code == 400 and text in PLAIN_400):
            found.append(f"plain text {text!r} for {request}")
    elif "error" in (body := json.loads(text)) and response.status_code >= 400:
        # Refused before GraphQL ran (body too large, not a request object): the
        # service's error body, never a failure.
        if not (set(body) == {"error"} and body["error"]["code"]):
            found.append(f"not the error body: {body}")
    elif not (set(body) <= {"data", "errors", "extensions"} and body) or not (
        "data" in body or body.get("errors")
    ):
        found.append(f"not a GraphQL response: {body}")
    else:
        for error in body.get("errors") or []:
            code = (error.get("extensions") or {}).get("code")
            if not code or code == "INTERNAL":
                found.append(f"error coded {code!r}: {error} for {request}")
    if not reveals:
        asked = request.casefold()
        said = text.casefold()
        leaked = [s for s in SECRETS if s.casefold() not in asked and s.casefold() in said]
        if leaked:
            found.append(f"unmasked {leaked} in {text} for {request}")
    return body, found


def check(response: Any, request: str, reveals: bool) -> dict[str, Any]:
    """The answer's body, asserting that nothing is wrong with it (:func:`problems`)."""
    body, found = problems(response, request, reveals)
    assert found == []
    return body


def run(
    api: Api, role: str, operation: tuple[str, dict[str, Any]], method: str = "POST"
) -> tuple[dict[str, Any], list[str]]:
    """Send an operation with a role's token: the answer's body and its :func:`problems`."""
    query, variables = operation
    response = send(api, role, query, variables, method)
    request = query + json.dumps(variables, ensure_ascii=False)
    reveals = "pii:read" in SCOPES_OF[role] or "admin" in SCOPES_OF[role]
    return problems(response, request, reveals)


# -- the oracle works -----------------------------------------------------------------------

EVERYTHING = """query ($value: String!) {
  profileByIdentifier(kind: "customer_id", value: $value) {
    identifiers { value originals }
    attributes { name value }
    records { attributes identifiers { value original } }
    journey(first: 10) { nodes { properties identifiers { value } } }
  }
}"""


def test_the_leak_check_finds_the_known_values_a_pii_reader_sees(api: Api, known: Known) -> None:
    query = EVERYTHING
    shown = send(api, "pii", query, {"value": "C-1"})
    check(shown, query, reveals=True)
    ann = PEOPLE[0]
    for secret in (ann.email, ann.email.lower(), ann.phone, ann.e164, ann.first, ann.last):
        assert secret in shown.text, secret
    # The same answer given to a token without pii:read would be reported as a leak.
    _, found = problems(shown, query, reveals=False)
    assert len(found) == 1 and found[0].startswith("unmasked")
    masked = send(api, "reader", query, {"value": "C-1"})
    check(masked, query, reveals=False)
    assert "***" in masked.text


# -- every field at once -------------------------------------------------------------------


def plain_value(type_: GraphQLInputType, name: str, known: Known) -> Any:
    """A value the service takes for an argument, naming the first known person."""
    named = get_named_type(type_)
    if isinstance(type_, GraphQLNonNull):
        return plain_value(type_.of_type, name, known)
    if isinstance(type_, GraphQLList):
        if name == "ids":
            return known.profile_ids[:2]
        if name == "groups":
            return [[known.record_refs[0]], [known.record_refs[1]]]
        return [plain_value(type_.of_type, name, known)]
    if isinstance(named, GraphQLEnumType):
        return sorted(named.values)[0]
    if isinstance(named, GraphQLInputObjectType):
        return known.record_refs[0 if name in ("a", "recordA") else 1]
    assert isinstance(named, GraphQLScalarType)
    by_name: dict[str, Any] = {
        "id": known.profile_ids[0],
        "profileId": known.profile_ids[0],
        "kind": "customer_id",
        "value": "C-1",
        "first": 3,
        "maxRecords": 10,
        "alternatives": 3,
        "actionId": 1,
        "refresh": False,
        "reason": "fuzz",
        "rules": rules_text(),  # previewRules: the rules the graph runs with, a change of none
    }
    if name in by_name:
        return by_name[name]
    return {"Int": 3, "Float": 1.0, "Boolean": True, "ID": known.profile_ids[0]}.get(
        named.name, known.segments[0] if name == "name" else "x"
    )


def full_selection(type_: GraphQLOutputType, known: Known, depth: int) -> str:
    """Every field of ``type_`` (its required arguments given) down to ``depth`` levels."""
    named = get_named_type(type_)
    if isinstance(named, GraphQLScalarType | GraphQLEnumType):
        return ""
    if isinstance(named, GraphQLUnionType | GraphQLInterfaceType):
        members = " ".join(
            f"... on {t.name} {full_selection(t, known, depth)}"
            for t in SCHEMA.get_possible_types(named)
        )
        return "{ __typename " + members + " }"
    assert isinstance(named, GraphQLObjectType)
    parts = ["__typename"]
    for name, f in sorted(named.fields.items()):
        leaf = isinstance(get_named_type(f.type), GraphQLScalarType | GraphQLEnumType)
        if not leaf and depth <= 1:
            continue
        args = [
            f"{a}: {literal(plain_value(arg.type, a, known), arg.type)}"
            for a, arg in f.args.items()
            if isinstance(arg.type, GraphQLNonNull)
            or a == "name"  # a profile's attribute(name:), else every candidate
        ]
        if name == "attribute":
            args = ['name: "first_name"']
        inner = "" if leaf else full_selection(f.type, known, depth - 1)
        parts.append(f"{name}{'(' + ', '.join(args) + ')' if args else ''} {inner}")
    return "{ " + " ".join(parts) + " }"


@pytest.mark.parametrize("root", ROOTS["query"])
def test_every_field_of_each_query_answers_masked_without_pii_read(
    make_api: Callable[..., Api], known: Known, root: str
) -> None:
    """Each query root with all its fields to five levels (so a new field is read as soon
    as it exists), for every token without pii:read: masked, never failing."""
    api = make_api(graphql_cost_per_minute=0, graphql_max_cost=1_000_000)
    assert SCHEMA.query_type is not None
    f = SCHEMA.query_type.fields[root]
    args = ", ".join(
        f"{a}: {literal(plain_value(arg.type, a, known), arg.type)}"
        for a, arg in f.args.items()
        if isinstance(arg.type, GraphQLNonNull)
    )
    if "phone" in f.args:  # a search needs a criterion: the first person's number
        args += f', phone: "{PEOPLE[0].e164}"'
    if root == "personData":  # names its person by exactly one of its arguments
        args = f'profileId: "{known.profile_ids[0]}"'
    query = (
        f"query {{ {root}{'(' + args + ')' if args else ''} {full_selection(f.type, known, 5)} }}"
    )
    ran = {role: run(api, role, (query, {})) for role in [*NO_PII_ROLES, "admin"]}
    assert [p for _, found in ran.values() for p in found] == []
    answers = {role: body for role, (body, _) in ran.items()}
    admin = json.dumps(answers["admin"])
    assert "errors" not in answers["admin"], admin
    if any(secret in admin for secret in SECRETS):  # there is personal data to hide
        refused = all(
            a.get("data") is None
            and {e["extensions"]["code"] for e in a.get("errors", [])} == {"FORBIDDEN"}
            for role, a in answers.items()
            if role != "admin"
        )  # personData: every role without pii:read or privacy:read is refused outright
        assert refused or any("***" in json.dumps(a) for a in answers.values()), answers


# -- the fuzz -------------------------------------------------------------------------------


@FUZZ
@given(data=st.data())
def test_any_query_without_pii_read_is_answered_masked_and_never_fails(
    api: Api, known: Known, data: st.DataObject
) -> None:
    values = Values(known)
    operation = data.draw(operations(values, ("query",)), label="operation")
    method = data.draw(st.sampled_from(["POST", "GET"]), label="method")
    masked = 0
    for role in NO_PII_ROLES:  # each: the scopes decide which fields answer
        body, found = run(api, role, operation, method)
        assert found == []
        masked += json.dumps(body).count("***")
    # Steer the search toward answers that hold personal values (masked), where a leak
    # would be.
    target(masked, label="masked values answered")


@FUZZ
@given(data=st.data())
def test_any_steward_mutation_then_a_read_is_answered_masked_and_never_fails(
    api: Api, known: Known, data: st.DataObject
) -> None:
    values = Values(known)
    role = data.draw(st.sampled_from(["steward", "steward_only", "reader"]), label="role")
    _, found = run(api, role, data.draw(operations(values, ("mutation",)), label="mutation"))
    assert found == []
    after = data.draw(operations(values, ("query",)), label="query")
    masked = 0
    for reader in ("steward", "reader"):
        body, found = run(api, reader, after)
        assert found == []
        masked += json.dumps(body).count("***")
    target(masked, label="masked values answered")


@FUZZ
@given(data=st.data())
def test_any_operation_with_any_token_is_a_graphql_answer(
    api: Api, known: Known, data: st.DataObject
) -> None:
    values = Values(known)
    role = data.draw(st.sampled_from(ALL_ROLES), label="role")
    method = data.draw(st.sampled_from(["POST", "GET"]), label="method")
    operation = data.draw(operations(values, ("query", "mutation")), label="operation")
    _, found = run(api, role, operation, method)
    assert found == []


# -- what the fuzz found, one test each -------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "variables", "words"),
    [
        ("RecordRefInput!", {}, "Expected a value of non-null type 'RecordRefInput!'"),
        ("RecordRefInput!", {"v": {"source": "crm"}}, "to include required field 'key'"),
        ("RecordRefInput!", {"v": "crm/C-1"}, "'RecordRefInput' to be an object"),
    ],
)
def test_a_variable_missing_or_of_the_wrong_type_is_a_validation_error_not_internal(
    api: Api, declared: str, variables: dict[str, Any], words: str
) -> None:
    query = (
        f"mutation ($v: {declared}) "
        '{ acceptMatch(a: {source: "crm", key: "C-1"}, b: $v) { __typename } }'
    )
    body = check(send(api, "steward", query, variables), query, reveals=False)
    [error] = body["errors"]
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert words in error["message"] and body.get("data") is None


@pytest.mark.parametrize("value", [-(2**31) - 1, "ten", 1.5, None])
def test_a_page_size_variable_below_32_bits_or_not_an_int_is_a_validation_error(
    api: Api, value: Any
) -> None:
    query = "query ($first: Int!) { reviewQueue(first: $first) { pageInfo { hasNextPage } } }"
    body = check(send(api, "steward", query, {"first": value}), query, reveals=False)
    [error] = body["errors"]
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert (
        "Variable '$first' got invalid value" in error["message"]
        or "invalid value" in error["message"]
    )


@pytest.mark.parametrize(
    ("query", "variables", "where"),
    [
        ("query ($v: ID!) { profile(id: $v) { id } }", {"v": "\ud800"}, "variables.v"),
        ("query ($v: String!) { segment(name: $v) { name } }", {"v": "a\udfffb"}, "variables.v"),
        (
            'mutation ($v: [ID!]!) { mergeProfiles(ids: $v, reason: "r") { __typename } }',
            {"v": ["p-1", "\udc81"]},
            "variables.v[1]",
        ),
        (
            "mutation ($v: RecordRefInput!) "
            '{ separateRecords(a: $v, b: $v, reason: "r") { __typename } }',
            {"v": {"source": "crm", "key": "\ud83d"}},
            "variables.v.key",
        ),
        ("query ($v: JSON) { __typename }", {"v": {"k\ud800": 1}}, "variables.v.k\\ud800"),
    ],
)
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_lone_surrogate_in_a_variable_is_400_naming_the_place_not_internal(
    api: Api, known: Known, query: str, variables: dict[str, Any], where: str, method: str
) -> None:
    if method == "GET" and query.startswith("mutation"):
        return  # a mutation over GET is refused whatever it holds
    response = send(api, "admin", query, variables, method)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_PAYLOAD"
    assert error["message"].startswith(f"{where} holds a lone surrogate"), error


def test_a_surrogate_pair_in_a_variable_is_text_and_a_lone_one_in_a_literal_does_not_parse(
    api: Api, known: Known
) -> None:
    query = "query ($v: String!) { segment(name: $v) { name } }"
    body = check(send(api, "admin", query, {"v": "\U0001f642"}), query, reveals=True)
    assert body == {"data": {"segment": None}}
    literal_query = '{ profile(id: "\\ud800") { id } }'
    body = check(send(api, "admin", literal_query, {}), literal_query, reveals=True)
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
