"""POST /v1/records and /v1/sources over a real store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.service.conftest import MAX_BODY, Api

ROWS = [
    {"id": "a", "email": "ann@example.com", "first": "Ann"},
    {"id": "b", "phone": "07400 123456", "first": "Bob"},
]
EMAIL_QUERY = """query ($value: String!) {
  profileByIdentifier(kind: "email", value: $value) { records { source key } }
}"""


def post(api: Api, body: str | bytes, content_type: str, source: str = "shop") -> Any:
    return api.client.post(
        "/v1/records",
        params={"source": source},
        content=body,
        headers={"Content-Type": content_type, **api.auth("ingester")},
    )


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
    api: Api, tmp_path: Path
) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    for role in (None, "reader", "ingester"):
        response = api.client.get("/readyz", headers=api.auth(role))
        assert response.status_code == 200
        assert response.json() == {"status": "ready"}
        assert str(tmp_path) not in response.text
    body = api.client.get("/readyz", headers=api.auth("admin")).json()
    assert body["status"] == "ready"
    assert body["store"]["ok"] is True and body["store"]["backend"] == "sqlite"


def test_readiness_is_503_when_the_store_is_gone(api: Api) -> None:
    api.client.app.state.graph.store.close()  # type: ignore[attr-defined]
    response = api.client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}
    detailed = api.client.get("/readyz", headers=api.auth("admin")).json()
    assert detailed["store"]["ok"] is False and detailed["store"]["detail"]
