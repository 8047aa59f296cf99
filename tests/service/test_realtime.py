"""A record sent over HTTP is linked by the trained match model before the response."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from identity.demo.generator import generate
from identity.graph import IdentityGraph
from identity.mapping import load_mapping
from identity.readers import read_file
from tests.service.conftest import Api

pytestmark = pytest.mark.both_stores

PROFILE = """query ($kind: String!, $value: String!) {
  profileByIdentifier(kind: $kind, value: $value) { id records { source key } }
}"""


def profile(api: Api, kind: str, value: str) -> Any:
    result = api.graphql(PROFILE, kind=kind, value=value)
    assert "errors" not in result, result
    return result["data"]["profileByIdentifier"]


def test_a_record_sent_over_http_joins_its_person_by_the_match_model_at_once(
    graph: IdentityGraph, make_api: Callable[..., Api], tmp_path: Path
) -> None:
    files = generate(tmp_path / "demo", people=150, seed=9)
    for path in sorted(files.mappings_dir.glob("*.toml")):
        graph.ingest.register_source(load_mapping(path, rules=graph.rules))
    for source, path in sorted(files.files.items()):
        graph.ingest.ingest_rows(source, read_file(path, graph.ingest.source(source).format))
    graph.probabilistic().train()
    with files.files["crm"].open(encoding="utf-8") as handle:
        person = next(row for row in csv.DictReader(handle) if row["birth_date"])
    day, month, year = person["birth_date"].split("/")
    api = make_api()

    # No identifier in common with anything stored: only the model can place it.
    row = {
        "account_id": "w-realtime-1",
        "email": "new.address.never.seen@example.org",
        "first_name": person["first_name"],
        "last_name": person["last_name"],
        "birth_date": f"{year}-{month}-{day}",
        "address_line": person["address_line"],
        "postcode": person["postcode"],
        "created": "2026-11-01T10:00:00+00:00",
    }
    report = api.ingest("webshop", [row])
    assert report["accepted"] == 1, report
    assert report["probabilistic_skipped"] is None
    assert report["probabilistic_links"] >= 1

    joined = profile(api, "email", row["email"])
    keys = {(r["source"], r["key"]) for r in joined["records"]}
    assert ("webshop", "w-realtime-1") in keys
    assert ("crm", person["customer_no"]) in keys
    assert joined["id"] == profile(api, "customer_id", person["customer_no"])["id"]


def test_without_a_trained_model_the_report_says_why_nothing_was_scored(api: Api) -> None:
    report = api.ingest("shop", [{"id": "s1", "email": "ann@example.com", "first": "Ann"}])
    assert report["accepted"] == 1
    assert report["probabilistic_links"] == 0
    assert "idgraph train" in report["probabilistic_skipped"]
