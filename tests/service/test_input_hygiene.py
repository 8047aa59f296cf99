"""Input hygiene at the edge: what a record or an event may hold, over HTTP.

A row holding what no store, JSON encoder or client can take (NUL and other control
characters, lone surrogates, NaN, numbers past 64 bits, strings past the limit, nesting
past the limit) is refused as a row error naming the field, its size and the limit, never
echoing the value; the other rows go on. No input answers 5xx.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from identity.graph import IdentityGraph
from identity.mapping import SourceMapping
from identity.rules import load_rules
from service.app import create_app
from service.config import Settings
from tests.service.conftest import CRM, MAX_BODY, Api
from tests.store.conftest import BACKENDS

pytestmark = pytest.mark.both_stores

MiB = 1024 * 1024
EVENT = {
    "event_id": "ev-1",
    "type": "page_view",
    "timestamp": "2026-03-01T10:00:00Z",
    "identifiers": {"email": "ann@example.com"},
}
ATTRIBUTES = """query ($value: String!) {
  profileByIdentifier(kind: "email", value: $value) {
    attributes { name value }
    traits { orderValue monetary }
  }
}"""


def strict_json(text: str) -> Any:
    """JSON as the standard has it: NaN and Infinity are not JSON."""

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def post(api: Api, path: str, body: str | bytes, content_type: str = "application/json") -> Any:
    params = {"source": "crm"} if path == "/v1/records" else {}
    return api.client.post(
        path,
        params=params,
        content=body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body,
        headers={"Content-Type": content_type, **api.auth("ingester")},
    )


def report_of(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    report: dict[str, Any] = strict_json(response.text)
    return report


@pytest.fixture
def big_api(make_api: Callable[..., Api]) -> Api:
    """The API with room for bodies of a few megabytes."""
    return make_api(max_body_bytes=16 * MiB)


# -- one regression test per failure found on the running service ----------------------------


@pytest.mark.parametrize("path", ["/v1/records", "/v1/events"])
def test_json_nesting_100000_levels_is_400_naming_the_depth_and_the_limit(
    big_api: Api, path: str
) -> None:
    response = post(big_api, path, "[" * 100_000)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_PAYLOAD"
    assert "100,000 levels" in error["message"] and "limit is 17" in error["message"]


def test_an_ndjson_line_nesting_too_deep_is_a_row_error_and_the_others_are_stored(
    api: Api,
) -> None:
    deep = '{"customer_no": "D", "x": ' + "[" * 50 + "]" * 50 + "}"
    good = json.dumps({"customer_no": "G", "email": "g@example.com"})
    report = report_of(post(api, "/v1/records", f"{deep}\n{good}\n", "application/x-ndjson"))
    assert (report["accepted"], report["rejected"]) == (1, 1)
    [error] = report["errors"]
    assert error["row"] == 1 and "51 levels deep; the limit is 16" in error["problem"]


def test_a_nul_in_a_record_key_is_a_row_error_naming_the_field_not_the_value(api: Api) -> None:
    rows = [
        {"customer_no": "RS\u00005", "email": "nul@example.com"},
        {"customer_no": "RS6", "email": "ok@example.com"},
    ]
    response = api.post_records("crm", rows)
    report = report_of(response)
    assert (report["accepted"], report["rejected"]) == (1, 1)
    [error] = report["errors"]
    assert (error["row"], error["field"], error["key"]) == (1, "customer_no", None)
    assert "NUL character (U+0000)" in error["problem"]
    assert "RS" not in response.text.replace("RS6", "")  # the value is never echoed


def test_a_lone_surrogate_in_a_record_attribute_is_a_row_error(api: Api) -> None:
    body = '[{"customer_no": "S1", "city": "Le\\ud800eds"}, {"customer_no": "S2", "city": "York"}]'
    report = report_of(post(api, "/v1/records", body))
    assert (report["accepted"], report["rejected"]) == (1, 1)
    [error] = report["errors"]
    assert (error["row"], error["field"], error["key"]) == (1, "city", "S1")
    assert "lone surrogate (U+D800)" in error["problem"]


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("type", {"type": "page\ud800view"}),
        ("identifiers.cookie_id", {"identifiers": {"cookie_id": "c-\udc81"}}),
    ],
)
def test_a_lone_surrogate_in_an_event_is_a_row_error(
    api: Api, field: str, change: dict[str, Any]
) -> None:
    events = [EVENT | {"event_id": "bad"} | change, EVENT]
    body = json.dumps(events)  # ensure_ascii: the surrogates travel as \\ud800 escapes
    report = report_of(post(api, "/v1/events", body))
    assert (report["accepted"], report["rejected"]) == (1, 1)
    [error] = report["errors"]
    assert (error["row"], error["field"], error["key"]) == (1, field, "bad")
    assert "lone surrogate" in error["problem"]


def test_a_lone_surrogate_sent_as_raw_bytes_is_a_body_that_is_not_utf8(api: Api) -> None:
    body = '[{"customer_no": "S1", "city": "\ud800"}]'.encode("utf-8", "surrogatepass")
    response = post(api, "/v1/records", body)
    assert response.status_code == 400
    assert "not UTF-8" in response.json()["error"]["message"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_nan_and_infinity_are_row_errors_in_records_and_events(api: Api, literal: str) -> None:
    named = "NaN" if literal == "NaN" else "Infinity"
    records = f'[{{"customer_no": "N1", "score": {literal}}}, {{"customer_no": "N2"}}]'
    report = report_of(post(api, "/v1/records", records))
    assert (report["accepted"], report["rejected"]) == (1, 1)
    [error] = report["errors"]
    assert error["field"] == "score" and f"is {named}" in error["problem"]

    event = json.dumps(EVENT | {"properties": {"order_value": "?"}}).replace('"?"', literal)
    report = report_of(post(api, "/v1/events", event))
    assert report["rejected"] == 1
    [error] = report["errors"]
    assert error["field"] == "properties.order_value" and f"is {named}" in error["problem"]


def test_nan_is_never_served_back_by_graphql(api: Api) -> None:
    rows = (
        '[{"customer_no": "N1", "email": "ann@example.com", "city": NaN},'
        ' {"customer_no": "N2", "email": "ann@example.com", "first_name": "Ann"}]'
    )
    assert report_of(post(api, "/v1/records", rows))["rejected"] == 1
    # An order value written as text is kept as written, and counts as no value.
    purchase = EVENT | {"event_id": "o1", "type": "purchase", "properties": {"order_value": "NaN"}}
    assert api.post_events(purchase)["accepted"] == 1
    response = api.client.post(
        "/graphql",
        json={"query": ATTRIBUTES, "variables": {"value": "ann@example.com"}},
        headers=api.auth("pii"),
    )
    result = strict_json(response.text)
    assert "errors" not in result
    profile = result["data"]["profileByIdentifier"]
    assert profile["attributes"] == [{"name": "first_name", "value": "Ann"}]
    assert profile["traits"] == {"orderValue": 0, "monetary": 0}


def test_a_number_text_converting_to_nan_is_a_row_error_in_csv(api: Api) -> None:
    mapping = {"key": "id", "attributes": {"score": {"name": "score", "type": "number"}}}
    api.client.put("/v1/sources/scores", json=mapping, headers=api.auth("admin"))
    csv = "id,score\na,NaN\nb,1e999\nc,12345678901234567890\nd,42\n"
    response = api.client.post(
        "/v1/records",
        params={"source": "scores"},
        content=csv,
        headers={"Content-Type": "text/csv", **api.auth("ingester")},
    )
    report = report_of(response)
    assert (report["accepted"], report["rejected"]) == (1, 3)
    assert [(e["row"], e["field"]) for e in report["errors"]] == [
        (1, "score"),
        (2, "score"),
        (3, "score"),
    ]
    assert "converts to NaN" in report["errors"][0]["problem"]
    assert "20 digits; the limit is ±9,223,372,036,854,775,807" in report["errors"][2]["problem"]


@pytest.mark.parametrize("digits", [401, 5000])
def test_a_customer_number_beyond_64_bits_is_a_row_error_naming_its_size(
    big_api: Api, digits: int
) -> None:
    body = '[{"customer_no": 1' + "0" * (digits - 1) + "}]"
    report = report_of(post(big_api, "/v1/records", body))
    assert report["rejected"] == 1
    [error] = report["errors"]
    assert error["field"] == "customer_no"
    assert f"{digits:,} digits; the limit is ±9,223,372,036,854,775,807" in error["problem"]


def test_a_10_mb_string_is_a_row_error_naming_its_length_and_the_limit(big_api: Api) -> None:
    rows = [{"customer_no": "L1", "notes": "x" * 10_000_000}, {"customer_no": "L2"}]
    response = big_api.client.post(
        "/v1/records", params={"source": "crm"}, json=rows, headers=big_api.auth("ingester")
    )
    report = report_of(response)
    assert (report["accepted"], report["rejected"]) == (1, 1)
    [error] = report["errors"]
    assert error["field"] == "notes"
    assert error["problem"] == "is 10,000,000 characters long; the limit is 8,192"


def test_a_field_may_have_its_own_string_limit(
    store_backend: str, tmp_path: Path, tokens: dict[str, str], tokens_file: Path
) -> None:
    rules = tmp_path / "rules.toml"
    packaged = resources.files("identity").joinpath("config/rules.toml").read_text("utf-8")
    rules.write_text(packaged + "\n[limits.fields.notes]\nmax_string_length = 20000\n")
    graph = IdentityGraph(BACKENDS[store_backend](tmp_path), load_rules(rules))
    graph.ingest.register_source(SourceMapping.from_document(CRM, rules=graph.rules))
    app = create_app(Settings(tokens_file=tokens_file, max_body_bytes=MiB), graph)
    with TestClient(app) as client:
        rows = [
            {"customer_no": "F1", "notes": "n" * 15_000},
            {"customer_no": "F2", "remark": "r" * 15_000},
        ]
        response = client.post(
            "/v1/records",
            params={"source": "crm"},
            json=rows,
            headers={"Authorization": f"Bearer {tokens['ingester']}"},
        )
    graph.close()
    report = report_of(response)
    assert (report["accepted"], report["rejected"]) == (1, 1)
    assert report["errors"][0]["field"] == "remark"


def test_events_and_nested_fields_are_held_to_the_string_and_number_caps_of_their_field(
    store_backend: str, tmp_path: Path, tokens: dict[str, str], tokens_file: Path
) -> None:
    rules = tmp_path / "rules.toml"
    packaged = resources.files("identity").joinpath("config/rules.toml").read_text("utf-8")
    rules.write_text(
        packaged + "\n[limits.fields.notes]\nmax_string_length = 20000\n"
        "\n[limits.fields.order_value]\nmax_number = 1000000\n"
    )
    graph = IdentityGraph(BACKENDS[store_backend](tmp_path), load_rules(rules))
    graph.ingest.register_source(SourceMapping.from_document(CRM, rules=graph.rules))
    app = create_app(Settings(tokens_file=tokens_file, max_body_bytes=MiB), graph)
    auth = {"Authorization": f"Bearer {tokens['ingester']}"}

    def event(n: int, properties: dict[str, Any]) -> dict[str, Any]:
        return EVENT | {"event_id": f"cap-{n}", "properties": properties}

    events = [
        event(1, {"notes": "n" * 15_000, "order_value": 1_000_000}),
        event(2, {"remark": "r" * 9_000}),
        event(3, {"basket": {"order_value": 1_000_001}}),
        event(4, {"cart": [{"qty": 2**64}]}),
        event(5, {"cart": [{"notes": "x" * 20_001}]}),
    ]
    records = [
        {"customer_no": "K1", "address": {"lines": ["l" * 8_193]}},
        {"customer_no": "K2", "address": {"floor": -(2**63)}},
    ]
    with TestClient(app) as client:
        events_response = client.post("/v1/events", json=events, headers=auth)
        records_response = client.post(
            "/v1/records", params={"source": "crm"}, json=records, headers=auth
        )
    graph.close()
    report = report_of(events_response)
    assert (report["accepted"], report["rejected"]) == (1, 4)
    assert [(e["row"], e["field"], e["problem"]) for e in report["errors"]] == [
        (2, "properties.remark", "is 9,000 characters long; the limit is 8,192"),
        (
            3,
            "properties.basket.order_value",
            "is a number of 7 digits; the limit is ±1,000,000",
        ),
        (
            4,
            "properties.cart[0].qty",
            "is a number of 20 digits; the limit is ±9,223,372,036,854,775,807",
        ),
        (5, "properties.cart[0].notes", "is 20,001 characters long; the limit is 20,000"),
    ]
    report = report_of(records_response)
    assert (report["accepted"], report["rejected"]) == (0, 2)
    assert [(e["field"], e["problem"]) for e in report["errors"]] == [
        ("address.lines[0]", "is 8,193 characters long; the limit is 8,192"),
        ("address.floor", "is a number of 19 digits; the limit is ±9,223,372,036,854,775,807"),
    ]
    assert "lll" not in records_response.text and "rrr" not in events_response.text


def test_a_value_kept_as_written_is_warned_about_without_repeating_it(api: Api) -> None:
    mapping = {"key": "id", "attributes": {"dob": {"name": "birth_date", "type": "date"}}}
    api.client.put("/v1/sources/people", json=mapping, headers=api.auth("admin"))
    response = api.client.post(
        "/v1/records",
        params={"source": "people"},
        json=[{"id": "p1", "dob": "31/02/1990"}],
        headers=api.auth("ingester"),
    )
    [warning] = report_of(response)["warnings"]
    assert warning["field"] == "dob" and "not a date" in warning["problem"]
    assert "1990" not in response.text


def test_a_mapping_holding_a_lone_surrogate_or_a_nul_is_422_naming_the_field(api: Api) -> None:
    for body, field in [
        ('{"key": "id", "attributes": {"ci\\ud800ty": "city"}}', "attributes.ci\\ud800ty"),
        ('{"key": "id\\u0000"}', "key"),
    ]:
        response = api.client.put(
            "/v1/sources/odd",
            content=body,
            headers={"Content-Type": "application/json", **api.auth("admin")},
        )
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "INVALID_CONFIG" and f"field '{field}'" in error["message"]
    tsv = {"key": "id", "csv_delimiter": "\t"}
    assert api.client.put("/v1/sources/tsv", json=tsv, headers=api.auth("admin")).is_success


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"[" * 100_000, "nests 100,000 levels deep; the limit is 17"),
        (b'{"query": "{ __typename }", "variables": ' + b"[" * 5000 + b"}", "5,001 levels"),
        (b'"{ __typename }"', "a GraphQL request is a JSON object"),
        (b"\x80{}", "not UTF-8"),
        (b'{"query": "{ __typename }", "operationName": {}}', "'operationName' must be"),
    ],
)
def test_a_graphql_body_the_graphql_library_would_fail_on_is_400(
    big_api: Api, body: bytes, words: str
) -> None:
    headers = {"Content-Type": "application/json", **big_api.auth("pii")}
    response = big_api.client.post("/graphql", content=body, headers=headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_PAYLOAD" and words in error["message"]


def test_graphql_variables_nesting_too_deep_in_a_get_are_400(api: Api) -> None:
    params = {"query": "{ __typename }", "variables": "[" * 5000}
    response = api.client.get("/graphql", params=params, headers=api.auth("pii"))
    assert response.status_code == 400
    assert "variables nests 5,000 levels deep" in response.json()["error"]["message"]


def test_a_graphql_body_over_the_limit_is_413(make_api: Callable[..., Api]) -> None:
    api = make_api(graphql_max_body_bytes=MAX_BODY)
    query = "{ __typename }" + " " * MAX_BODY
    response = api.client.post("/graphql", json={"query": query}, headers=api.auth("pii"))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert "IDGRAPH_GRAPHQL_MAX_BODY_BYTES" in response.json()["error"]["message"]


# -- any JSON at all: never a 5xx, and a refused row changes nothing stored -------------------

MAX_DEPTH = 16
POISON_TEXT = st.sampled_from(
    ["RS\x005", "\ud800", "a\udfffb", "tab\there", "\x1b[31m", "x" * 9000, "ok", ""]
)
KEYS = st.one_of(st.text(max_size=8), POISON_TEXT, st.sampled_from(["email", "city", "k" * 300]))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**70),
    st.sampled_from([10**400, -(10**30)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e300]),
    st.text(max_size=20),
    POISON_TEXT,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=12,
)


@st.composite
def bodies(draw: st.DrawFn, row: dict[str, Any]) -> tuple[bytes, str]:
    """A body around ``row`` (mixed with arbitrary fields), as JSON or NDJSON, sometimes
    nested deep, with lone surrogates escaped or as raw bytes."""
    fields = draw(st.dictionaries(KEYS, VALUES, max_size=4))
    target = {**fields, **row} if draw(st.booleans()) else {**row, **fields}
    levels = draw(st.sampled_from([0, 0, 0, 1, MAX_DEPTH - 1, MAX_DEPTH, 100_000]))
    value: Any = target
    shape = draw(st.sampled_from(["array", "object", "ndjson", "anything"]))
    if shape == "anything":
        value = draw(VALUES)
    escaped = draw(st.booleans())
    text = json.dumps([value] if shape == "array" else value, ensure_ascii=escaped)
    if levels:
        inner = text if shape != "array" else text[1:-1]
        text = "[" * levels + inner + "]" * levels
        if shape == "array":
            text = "[" + text + "]"
    media = "application/x-ndjson" if shape == "ndjson" else "application/json"
    return text.encode("utf-8", "surrogatepass"), media


def stored(graph: IdentityGraph) -> tuple[Any, ...]:
    """What a client could read of the profile of customer C-1 (its records, golden record
    and identifiers), its journey, and the store's counts."""
    [profile] = graph.profiles.by_identifier("customer_id", "C-1")
    journey = graph.journeys.page(profile.id, first=100).events
    return profile, tuple(journey), graph.store.counts()


@pytest.fixture
def ann(big_api: Api, graph: IdentityGraph) -> Iterator[Api]:
    big_api.ingest("crm", [{"customer_no": "C-1", "email": "ann@example.com", "city": "Leeds"}])
    big_api.post_events(EVENT)
    yield big_api


def rejected_first_row(response: Any) -> bool:
    if response.status_code != 200:
        return True
    return any(e["row"] == 1 for e in response.json()["errors"])


# The API and its store are shared by the examples on purpose: each compares what is
# stored before and after its own request.
HYGIENE = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@HYGIENE
@given(body=bodies({"customer_no": "C-1", "email": "ann@example.com"}))
def test_any_record_body_is_answered_2xx_or_4xx_and_a_refused_row_changes_nothing(
    ann: Api, graph: IdentityGraph, body: tuple[bytes, str]
) -> None:
    before = stored(graph)
    response = post(ann, "/v1/records", body[0], body[1])
    assert response.status_code < 500, response.text
    assert response.status_code in (200, 400, 413), response.text
    strict_json(response.text)
    if rejected_first_row(response):
        assert stored(graph) == before


@HYGIENE
@given(body=bodies(EVENT | {"event_id": "ev-h"}))
def test_any_event_body_is_answered_2xx_or_4xx_and_a_refused_row_changes_nothing(
    ann: Api, graph: IdentityGraph, body: tuple[bytes, str]
) -> None:
    before = stored(graph)
    response = post(ann, "/v1/events", body[0], body[1])
    assert response.status_code in (200, 400, 413), response.text
    strict_json(response.text)
    if rejected_first_row(response):
        assert stored(graph) == before


def test_a_mapping_warning_names_the_field_over_http_never_the_value(api: Api) -> None:
    rows = [{"customer_no": "W1", "email": "wanda-at-example", "phone": "12"}]
    response = api.post_records("crm", rows)
    report = report_of(response)
    assert report["accepted"] == 1
    assert {w["field"] for w in report["warnings"]} == {"email", "phone"}
    assert "wanda-at-example" not in response.text  # the CLI shows it, HTTP never does


# -- NUL at any depth, and one form of text (NFC) ------------------------------------------------


@pytest.mark.parametrize(
    ("path", "row", "field"),
    [
        ("/v1/records", {"customer_no": "U1", "first_name": "Se\x00cret"}, "first_name"),
        (
            "/v1/records",
            {"customer_no": "U1", "address": {"li\x00ne": "Se"}},
            "address.li\\u0000ne",
        ),
        (
            "/v1/records",
            {"customer_no": "U1", "address": {"lines": ["Se\x00"]}},
            "address.lines[0]",
        ),
        (
            "/v1/events",
            EVENT | {"properties": {"cart": [{"sku": "Se\x00cret"}]}},
            "properties.cart[0].sku",
        ),
        ("/v1/events", EVENT | {"properties": {"na\x00me": "Secret"}}, "properties.na\\u0000me"),
        (
            "/v1/events",
            EVENT | {"identifiers": {"email": "Se\x00cret@example.com"}},
            "identifiers.email",
        ),
    ],
)
def test_a_nul_at_any_depth_is_a_row_error_naming_the_field_never_the_value_nor_stored(
    api: Api, graph: IdentityGraph, path: str, row: dict[str, Any], field: str
) -> None:
    before = graph.store.counts()
    response = post(api, path, json.dumps([row]))
    report = report_of(response)
    assert (report["accepted"], report["rejected"]) == (0, 1)
    [error] = report["errors"]
    assert (error["row"], error["field"]) == (1, field)
    assert "NUL character (U+0000)" in error["problem"]
    assert "Se" not in response.text.replace("Sequence", "")  # the value is never echoed
    assert graph.store.counts() == before


DECOMPOSED, COMPOSED = "Zoe\u0308", "Zo\u00eb"
NAMES = """query ($value: String!) {
  profileByIdentifier(kind: "email", value: $value) {
    identifiers { kind value originals }
    attributes { name value }
    records { attributes }
    journey(first: 10) { nodes { id type properties } }
  }
}"""


def test_decomposed_and_composed_accents_end_in_one_profile_one_identifier_composed(
    api: Api,
) -> None:
    # Two sources: one customer number each would keep two CRM records apart.
    crm = {"customer_no": "Z1", "email": f"{DECOMPOSED.lower()}@example.com"}
    api.ingest("crm", [crm | {"first_name": DECOMPOSED}])
    api.ingest(
        "shop", [{"id": "Z2", "email": f"{COMPOSED.lower()}@example.com", "first": COMPOSED}]
    )
    event = {
        "event_id": f"r{DECOMPOSED}",
        "type": f"vu{DECOMPOSED}",
        "timestamp": "2026-03-01T10:00:00Z",
        "identifiers": {"email": f"{DECOMPOSED.lower()}@example.com"},
        "properties": {f"caf{DECOMPOSED[-2:]}": [{"note": DECOMPOSED}]},
    }
    assert api.post_events(event)["created"] == 1
    composed_event = json.loads(unicodedata.normalize("NFC", json.dumps(event, ensure_ascii=False)))
    assert api.post_events(composed_event)["unchanged"] == 1  # one event id, one event

    for lookup in (DECOMPOSED, COMPOSED):
        result = api.graphql(NAMES, value=f"{lookup.lower()}@example.com")
        assert "errors" not in result, result
        profile = result["data"]["profileByIdentifier"]
        [email] = [i for i in profile["identifiers"] if i["kind"] == "email"]
        assert email == {
            "kind": "email",
            "value": "zo\u00eb@example.com",
            "originals": ["zo\u00eb@example.com"],
        }
        assert {"name": "first_name", "value": COMPOSED} in profile["attributes"]
        assert [r["attributes"]["first_name"] for r in profile["records"]] == [COMPOSED] * 2
        [node] = profile["journey"]["nodes"]
        assert node == {
            "id": f"r{COMPOSED}",
            "type": f"vu{COMPOSED}",
            "properties": {"caf\u00eb": [{"note": COMPOSED}]},
        }
    assert DECOMPOSED not in json.dumps(result, ensure_ascii=False)


@pytest.mark.parametrize(
    ("in_mapping", "in_rows"),
    [
        ("pre\u0301nom", "pr\u00e9nom"),
        ("pr\u00e9nom", "pre\u0301nom"),
        ("pre\u0301nom", "pre\u0301nom"),
    ],
)
def test_a_mapping_names_columns_however_their_accents_are_encoded(
    api: Api, graph: IdentityGraph, in_mapping: str, in_rows: str
) -> None:
    mapping = {"key": "id", "attributes": {in_mapping: {"name": "first_name", "type": "name"}}}
    response = api.client.put("/v1/sources/fr", json=mapping, headers=api.auth("admin"))
    assert response.is_success, response.text
    report = api.ingest("fr", [{"id": "f1", in_rows: "Zoe\u0301"}])
    assert (report["accepted"], report["warnings"]) == (1, [])
    [record] = [r.record for r in graph.store.records.scan()]
    assert dict(record.attributes) == {"first_name": "Zo\u00e9"}
