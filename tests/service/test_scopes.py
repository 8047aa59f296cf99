"""Every route and every GraphQL root field checks one scope: a token of that scope alone is
let in, a token of any other single scope is refused with 403 / FORBIDDEN, admin passes
everything. The table must name every operation: a new one without an entry fails here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from identity.rules import rules_text
from tests.service.conftest import ROLES, SCOPE_ROLES, SHOP, Api

pytestmark = pytest.mark.both_stores

SEGMENT_DEFINITION = {"where": {"identifier": "email"}}
A_B = 'a: {source: "shop", key: "s1"}, b: {source: "shop", key: "s2"}'
"""Records that do not exist: a steward action is refused as an answer, not an error."""


@dataclass(frozen=True)
class Rest:
    method: str
    path: str
    body: Any = None

    def call(self, api: Api, role: str) -> httpx.Response:
        return api.client.request(self.method, self.path, json=self.body, headers=api.auth(role))


@dataclass(frozen=True)
class GraphQL:
    field: str
    query: str

    def call(self, api: Api, role: str) -> httpx.Response:
        return api.client.post("/graphql", json={"query": self.query}, headers=api.auth(role))


Operation = Rest | GraphQL

SCOPE_TABLE: list[tuple[Operation, str]] = [
    (Rest("GET", "/v1/sources"), "profiles:read"),
    (Rest("PUT", "/v1/sources/shop", SHOP), "admin"),
    (Rest("POST", "/v1/records?source=shop", []), "ingest:write"),
    (Rest("POST", "/v1/events", []), "ingest:write"),
    (Rest("GET", "/v1/segments/everyone/members"), "segments:read"),
    (GraphQL("profile", '{ profile(id: "p") { id } }'), "profiles:read"),
    (
        GraphQL(
            "profileByIdentifier",
            '{ profileByIdentifier(kind: "email", value: "a@example.com") { id } }',
        ),
        "profiles:read",
    ),
    (
        GraphQL(
            "profilesByIdentifier",
            '{ profilesByIdentifier(kind: "email", value: "a@example.com") { id } }',
        ),
        "profiles:read",
    ),
    (GraphQL("segments", "{ segments { name } }"), "segments:read"),
    (GraphQL("segment", '{ segment(name: "everyone") { name size } }'), "segments:read"),
    (
        GraphQL(
            "defineSegment",
            'mutation { defineSegment(name: "x", definition: {where: {identifier: "email"}}) '
            "{ __typename } }",
        ),
        "admin",
    ),
    (GraphQL("deleteSegment", 'mutation { deleteSegment(name: "x") { __typename } }'), "admin"),
    (GraphQL("reviewQueue", "{ reviewQueue { pageInfo { hasNextPage } } }"), "steward:write"),
    (GraphQL("profileChanges", "{ profileChanges { pageInfo { endCursor } } }"), "profiles:read"),
    (GraphQL("cluster", '{ cluster(profileId: "p1") { size } }'), "profiles:read"),
    (
        GraphQL(
            "explainLink",
            '{ explainLink(recordA: {source: "shop", key: "s1"}, '
            'recordB: {source: "shop", key: "s2"}) { __typename } }',
        ),
        "profiles:read",
    ),
    (
        GraphQL("suspiciousClusters", "{ suspiciousClusters(first: 1) { totalCount } }"),
        "profiles:read",
    ),
    (
        GraphQL("searchProfiles", '{ searchProfiles(name: "Ann Lee") { totalCount } }'),
        "profiles:read",
    ),
    (GraphQL("quality", "{ quality { reviewQueueSize } }"), "profiles:read"),
    (GraphQL("auditLog", "{ auditLog { pageInfo { hasNextPage } } }"), "admin"),
    (
        GraphQL("previewRules", f'{{ previewRules(rules: """{rules_text()}""") {{ merged }} }}'),
        "admin",
    ),
    (GraphQL("personData", '{ personData(profileId: "p") }'), "privacy:read"),
    # A profile that does not exist: refused as an answer (PrivacyActionRefused).
    (
        GraphQL(
            "erasePerson", 'mutation { erasePerson(profileId: "p", reason: "x") { __typename } }'
        ),
        "privacy:write",
    ),
    (
        GraphQL(
            "removeIdentifier",
            'mutation { removeIdentifier(profileId: "p", reason: "x", '
            'identifier: {kind: "email", value: "a@example.com"}) { __typename } }',
        ),
        "privacy:write",
    ),
    (GraphQL("destinations", "{ destinations { name } }"), "destinations:read"),
    (GraphQL("destination", '{ destination(name: "d") { name } }'), "destinations:read"),
    # A destination or segment that does not exist: refused as an answer.
    *(
        (GraphQL(name, f"mutation {{ {name}({args}) {{ __typename }} }}"), "destinations:write")
        for name, args in [
            ("addDestination", 'input: {name: "d", segment: "nope", folder: "/tmp/d"}'),
            ("pauseDestination", 'name: "d"'),
            ("resumeDestination", 'name: "d"'),
            ("removeDestination", 'name: "d"'),
            ("replayDeadLetters", 'destination: "d"'),
        ]
    ),
    *(
        (GraphQL(name, f"mutation {{ {name}({args}) {{ __typename }} }}"), "steward:write")
        for name, args in [
            ("mergeProfiles", 'ids: ["p1", "p2"], reason: "x"'),
            ("splitProfile", 'profileId: "p1", groups: [], reason: "x"'),
            ("separateRecords", A_B + ', reason: "x"'),
            ("undo", "actionId: 1"),
            ("acceptMatch", A_B),
            ("rejectMatch", A_B),
            ("keepApartAsHouseholds", 'a: "p1", b: "p2", reason: "x"'),
            ("removeFromHousehold", 'profileId: "p1", reason: "x"'),
            ("joinHouseholds", 'a: "p1", b: "p2", reason: "x"'),
            ("undoHouseholdCorrection", 'actionId: 1, reason: "x"'),
        ]
    ),
]
PUBLIC_ROUTES = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
"""Probes and metrics: no token, and nothing personal in them."""
ANY_TOKEN_FIELDS = {"viewer"}
"""GraphQL fields any valid token may read, whatever its scopes: who the caller is."""


def _describe(operation: Operation) -> str:
    if isinstance(operation, Rest):
        return f"{operation.method} {operation.path.split('?')[0]}"
    return operation.field


def _refused(response: httpx.Response) -> bool:
    if response.status_code == 403:
        return bool(response.json()["error"]["code"] == "FORBIDDEN")
    errors = response.json().get("errors", []) if response.status_code == 200 else []
    return any(e.get("extensions", {}).get("code") == "FORBIDDEN" for e in errors)


def _passed(operation: Operation, response: httpx.Response) -> bool:
    if isinstance(operation, GraphQL):
        # Let in: answered, at most with "no such profile" (the table asks for a profile
        # id that need not exist).
        errors = response.json().get("errors", []) if response.status_code == 200 else []
        codes = {e.get("extensions", {}).get("code") for e in errors}
        return response.status_code == 200 and codes <= {"UNKNOWN_PROFILE"}
    return response.status_code == 200


@pytest.fixture
def scoped_api(api: Api) -> Api:
    """The API with a segment to read and export."""
    result = api.graphql(
        'mutation ($d: JSON!) { defineSegment(name: "everyone", definition: $d) { __typename } }',
        role="admin",
        d=SEGMENT_DEFINITION,
    )
    assert result["data"]["defineSegment"]["__typename"] == "SegmentDefined", result
    return api


@pytest.mark.parametrize(
    ("operation", "scope"), SCOPE_TABLE, ids=[_describe(o) for o, _ in SCOPE_TABLE]
)
def test_each_operation_lets_in_its_scope_and_admin_and_refuses_every_other_scope(
    scoped_api: Api, operation: Operation, scope: str
) -> None:
    for other, role in SCOPE_ROLES.items():
        response = operation.call(scoped_api, role)
        if other in (scope, "admin"):
            assert _passed(operation, response), (role, response.status_code, response.text)
        else:
            assert _refused(response), (role, response.status_code, response.text)
            assert f"'{scope}'" in response.text  # the message names the missing scope


def test_the_scope_table_names_every_route_and_graphql_root_field(
    make_api: Callable[..., Api],
) -> None:
    api = make_api()
    paths = api.client.get("/openapi.json").json()["paths"]
    routes = {
        (method.upper(), path)
        for path, methods in paths.items()
        if path != "/graphql"
        for method in methods
    }
    listed = {
        (o.method, o.path.split("?")[0].replace("/shop", "/{name}").replace("/everyone", "/{name}"))
        for o, _ in SCOPE_TABLE
        if isinstance(o, Rest)
    }
    assert routes - PUBLIC_ROUTES == listed

    schema = api.graphql(
        "{ __schema { queryType { fields { name } } mutationType { fields { name } } } }",
        role="admin",
    )["data"]["__schema"]
    fields = {f["name"] for t in ("queryType", "mutationType") for f in schema[t]["fields"]}
    assert fields == {o.field for o, _ in SCOPE_TABLE if isinstance(o, GraphQL)} | ANY_TOKEN_FIELDS


def test_any_valid_token_reads_who_it_is_and_no_token_is_refused(scoped_api: Api) -> None:
    for role in ROLES:
        data = scoped_api.graphql("{ viewer { name scopes } }", role=role)
        assert data["data"]["viewer"] == {"name": role, "scopes": sorted(ROLES[role])}, role
    response = scoped_api.client.post("/graphql", json={"query": "{ viewer { name } }"})
    assert response.status_code == 401


def test_member_profiles_of_a_segment_also_need_profiles_read(scoped_api: Api) -> None:
    scoped_api.ingest("shop", [{"id": "s1", "email": "ann@example.com"}])
    query = '{ segment(name: "everyone") { members { nodes { profileId profile { id } } } } }'
    denied = scoped_api.graphql(query, role="activator")
    assert [e["extensions"]["code"] for e in denied["errors"]] == ["FORBIDDEN"]
    assert "'profiles:read'" in denied["errors"][0]["message"]
    allowed = scoped_api.graphql(query, role="admin")
    members = allowed["data"]["segment"]["members"]["nodes"]
    assert members and [m["profile"]["id"] for m in members] == [m["profileId"] for m in members]
