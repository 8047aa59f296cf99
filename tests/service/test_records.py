"""POST /v1/records and /v1/sources over a real store."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from identity.graph import IdentityGraph
from identity.profile_view import STATE_KEY, ProfileViewService
from tests.identity.test_readers import LATIN_1, UNCLOSED_QUOTE
from tests.service.conftest import MAX_BODY, Api

pytestmark = pytest.mark.both_stores

ROWS = [
    {"id": "a", "email": "ann@example.com", "first": "Ann"},
    {"id": "b", "phone": "07400 123456", "first": "Bob"},
]
EMAIL_QUERY = """query ($value: String!) {
  profileByIdentifier(kind: "email", value: $value) { records { source key } }
}"""


def post(
    api: Api, body: str | bytes, content_type: str, source: str = "shop", **params: str
) -> Any:
    return api.client.post(
        "/v1/records",
        params={"source": source, **params},
        content=body,
        headers={"Content-Type": content_type, **api.auth("ingester")},
    )


def stored(graph: IdentityGraph) -> dict[str, dict[str, Any]]:
    """The attributes of every stored record, by key."""
    return {r.record.key: dict(r.record.attributes) for r in graph.store.records.scan()}


def test_a_json_array_is_ingested_and_reported(api: Api) -> None:
    report = api.ingest("shop", ROWS)
    assert report["source"] == "shop"
    assert (report["received"], report["accepted"], report["created"]) == (2, 2, 2)
    assert report["profiles_created"] == 2
    assert report["errors"] == [] and report["warnings"] == []


def test_ndjson_and_csv_bodies_are_ingested(api: Api) -> None:
    ndjson = "\n".join(json.dumps(r) for r in ROWS) + "\n"
    response = post(api, ndjson, "application/x-ndjson")
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 2

    response = post(api, "id,email\nc,cat@example.com\n", "text/csv; charset=utf-8")
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1


def test_bad_rows_are_reported_by_row_and_field_while_good_rows_are_stored(api: Api) -> None:
    rows = [
        {"id": "a", "email": "ann@example.com"},
        {"email": "nokey@example.com"},
        {"id": "c", "email": "not-an-email", "phone": "07400 123457"},
    ]
    report = api.ingest("shop", rows)
    assert (report["accepted"], report["rejected"]) == (2, 1)
    [error] = report["errors"]
    assert (error["row"], error["field"]) == (2, "id")
    assert "key" in error["problem"]
    [warning] = report["warnings"]
    assert (warning["row"], warning["field"], warning["key"]) == (3, "email", "c")
    assert "invalid email" in warning["problem"]

    found = api.graphql(EMAIL_QUERY, value="ann@example.com")["data"]["profileByIdentifier"]
    assert found == {"records": [{"source": "shop", "key": "a"}]}


def test_a_row_that_is_not_an_object_is_reported_by_number(api: Api) -> None:
    response = post(api, json.dumps([ROWS[0], "oops"]), "application/json")
    assert response.status_code == 200
    report = response.json()
    assert report["accepted"] == 1
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(2, None)]


def test_re_posting_the_same_records_changes_nothing(api: Api) -> None:
    api.ingest("shop", ROWS)
    again = api.ingest("shop", ROWS)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    assert again["profiles_created"] == again["profiles_merged"] == 0


def test_an_unknown_source_is_404(api: Api) -> None:
    response = api.post_records("nope", ROWS)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "UNKNOWN_SOURCE"
    assert "'nope'" in error["message"]
    # Said in HTTP's terms, not the command line's.
    assert "PUT /v1/sources/nope" in error["message"]
    assert "--mapping" not in error["message"] and "idgraph" not in error["message"]


def test_a_phone_without_country_code_hints_at_the_mapping_only_where_one_applies(
    api: Api,
) -> None:
    api.client.put(
        "/v1/sources/intl",
        json={"key": "id", "identifiers": {"tel": "phone"}},
        headers=api.auth("admin"),
    )
    report = api.ingest("intl", [{"id": "1", "tel": "07400 123456"}])
    [warning] = [w["problem"] for w in report["warnings"]]
    assert "no country code" in warning and "set phone_region in the source mapping" in warning
    lookup = '{ profileByIdentifier(kind: "phone", value: "07400 123456") { id } }'
    [error] = api.graphql(lookup)["errors"]
    assert "no country code" in error["message"] and "mapping" not in error["message"]


def test_an_unreadable_body_is_400(api: Api) -> None:
    for body, content_type in [
        ('[{"id": "a"', "application/json"),
        ('"just a string"', "application/json"),
        (b"\xff\xfe not utf-8", "application/json"),
        ("<records/>", "application/xml"),
    ]:
        response = post(api, body, content_type)
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == "INVALID_PAYLOAD"


def test_a_body_over_the_limit_is_413(api: Api) -> None:
    rows = [{"id": str(i), "email": f"person{i}@example.com"} for i in range(200)]
    body = json.dumps(rows)
    assert len(body) > MAX_BODY
    response = post(api, body, "application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_a_missing_source_parameter_is_422(api: Api) -> None:
    response = api.client.post("/v1/records", json=ROWS, headers=api.auth("ingester"))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "INVALID_REQUEST"
    assert "source" in error["message"]


def test_sources_are_listed_with_their_mappings(api: Api) -> None:
    response = api.client.get("/v1/sources", headers=api.auth("reader"))
    assert response.status_code == 200
    by_name = {s["name"]: s for s in response.json()}
    assert sorted(by_name) == ["crm", "shop"]
    assert by_name["shop"]["identifiers"] == {"email": "email", "phone": "phone"}
    assert by_name["crm"]["priority"] == 90


def test_a_source_is_registered_over_http_and_takes_records(api: Api) -> None:
    mapping = {"key": "ticket", "identifiers": {"mail": "email"}, "priority": 20}
    response = api.client.put("/v1/sources/support", json=mapping, headers=api.auth("admin"))
    assert response.status_code == 200, response.text
    assert response.json()["name"] == response.json()["source"] == "support"
    assert api.ingest("support", [{"ticket": "T1", "mail": "ann@example.com"}])["created"] == 1


def test_an_invalid_mapping_is_422_naming_the_field(api: Api) -> None:
    for name, mapping, words in [
        ("support", {"key": "t", "identifiers": {"mail": "fax"}}, "identifiers.mail"),
        ("support", {"source": "other", "key": "t"}, "'other'"),
        ("support", {"key": "t", "colour": "red"}, "colour"),
    ]:
        response = api.client.put(f"/v1/sources/{name}", json=mapping, headers=api.auth("admin"))
        assert response.status_code == 422, mapping
        error = response.json()["error"]
        assert error["code"] == "INVALID_CONFIG"
        assert words in error["message"]
    # The field at fault is in the body as data, as well as in the message.
    response = api.client.put(
        "/v1/sources/support", json={"key": "t", "colour": "red"}, headers=api.auth("admin")
    )
    assert response.json()["error"]["field"] == "colour"


def test_health_and_readiness_need_no_token_and_tell_the_anonymous_nothing_more(
    api: Api, tmp_path: Path, store_backend: str
) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    for role in (None, "reader", "ingester"):
        response = api.client.get("/readyz", headers=api.auth(role))
        assert response.status_code == 200
        assert response.json() == {"status": "ready"}
        assert str(tmp_path) not in response.text
    body = api.client.get("/readyz", headers=api.auth("admin")).json()
    assert body["status"] == "ready"
    assert body["store"]["ok"] is True and body["store"]["backend"] == store_backend


def test_readiness_tells_an_admin_when_the_profile_read_model_is_stale(
    graph: IdentityGraph, make_api: Callable[..., Api]
) -> None:
    graph.store.meta.set(STATE_KEY, "")  # as after an upgrade of a store with data
    graph.views = ProfileViewService(graph.store, graph.rules, graph.profiles)
    api = make_api()
    assert api.client.get("/readyz").json() == {"status": "ready"}
    detail = api.client.get("/readyz", headers=api.auth("admin")).json()["store"]["detail"]
    assert "profile read model is stale" in detail and "idgraph profiles rebuild" in detail
    graph.views.rebuild()
    detail = api.client.get("/readyz", headers=api.auth("admin")).json()["store"]["detail"]
    assert "stale" not in detail


def test_readiness_is_503_when_the_store_is_gone(api: Api) -> None:
    api.client.app.state.graph.store.close()  # type: ignore[attr-defined]
    response = api.client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}
    detailed = api.client.get("/readyz", headers=api.auth("admin")).json()
    assert detailed["store"]["ok"] is False and detailed["store"]["detail"]


# -- CSV bodies are held to the rules files are (docs/sources.md, "CSV files") ------------------


def test_a_csv_body_with_a_quote_never_closed_is_400_naming_row_2_and_storing_nothing(
    api: Api, graph: IdentityGraph
) -> None:
    response = post(api, UNCLOSED_QUOTE, "text/csv", source="crm")
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_PAYLOAD"
    assert "refused and none of it stored" in error["message"]
    assert "row 2, lines 3-5: 4 fields but the header has 9" in error["message"]
    for personal in ("Bo", "Chen", "bo@example.com", "07912", "17/11/1990"):
        assert personal not in response.text
    assert stored(graph) == {}
    # Allowing values over several lines does not make a row of 4 fields out of 9 fit.
    response = post(api, UNCLOSED_QUOTE, "text/csv", source="crm", allow_multiline="true")
    assert response.status_code == 400
    assert stored(graph) == {}


def test_a_csv_value_spanning_lines_that_looks_like_rows_is_400_unless_allowed(
    api: Api, graph: IdentityGraph
) -> None:
    body = 'id,email,first\na,ann@example.com,"Ann\nb,bo@example.com,Bo"\n'
    response = post(api, body, "text/csv")
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "row 1, lines 2-3: the quoted value of 'first' opens at line 2" in message
    assert "send allow_multiline=true" in message
    assert stored(graph) == {}
    response = post(api, body, "text/csv", allow_multiline="true")
    assert response.status_code == 200, response.text
    assert stored(graph)["a"]["first_name"] == "Ann\nb,bo@example.com,Bo"

    api.client.put(
        "/v1/sources/notes",
        json={"key": "id", "allow_multiline": True},
        headers=api.auth("admin"),
    ).raise_for_status()
    assert post(api, body, "text/csv", source="notes").status_code == 200


def test_a_well_formed_multiline_csv_value_is_stored_as_written(
    api: Api, graph: IdentityGraph
) -> None:
    body = 'customer_no,email,city\r\nC-1,ann@example.com,"Hyde Park,\r\nLeeds"\r\n'
    response = post(api, body, "text/csv", source="crm")
    assert response.status_code == 200, response.text
    assert stored(graph)["C-1"]["city"] == "Hyde Park,\r\nLeeds"


def test_an_empty_csv_body_is_400_and_a_header_alone_answers_a_warning(api: Api) -> None:
    response = post(api, b"", "text/csv")
    assert response.status_code == 400
    assert "the body is empty" in response.json()["error"]["message"]
    response = post(api, "id,email\n", "text/csv")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["received"] == 0
    assert [(w["row"], w["problem"]) for w in report["warnings"]] == [
        (0, "no rows to ingest: the input holds none (a header only?)")
    ]


def test_a_csv_body_is_read_in_its_charset_and_a_latin1_one_without_is_400_with_a_hint(
    api: Api, graph: IdentityGraph
) -> None:
    response = post(api, LATIN_1, "text/csv", source="crm")
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "not UTF-8 text at line 2 (row 1): byte 0xEB" in message
    assert "send it with Content-Type: text/csv; charset=windows-1252" in message
    assert "Zo" not in message
    assert stored(graph) == {}
    response = post(api, LATIN_1, "text/csv; charset=latin-1", source="crm")
    assert response.status_code == 200, response.text
    assert stored(graph)["C-9"]["first_name"] == "Zoë"


def test_a_csv_body_is_read_with_the_delimiter_and_encoding_of_the_mapping(
    api: Api, graph: IdentityGraph
) -> None:
    mapping = {"key": "id", "csv_delimiter": ";", "encoding": "cp1252"}
    api.client.put("/v1/sources/till", json=mapping, headers=api.auth("admin")).raise_for_status()
    response = post(api, "id;name\nt-1;Zoë Müller\n".encode("cp1252"), "text/csv", source="till")
    assert response.status_code == 200, response.text
    assert stored(graph)["t-1"] == {"name": "Zoë Müller"}
