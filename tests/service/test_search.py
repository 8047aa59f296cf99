"""searchProfiles over HTTP: crafted people among generated ones (so that a trained model
and plenty of namesakes' neighbours are real), found by what a call-centre agent or a
steward would type, best first, explained, masked without pii:read, and paged."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from identity.demo.generator import generate
from identity.graph import IdentityGraph
from identity.mapping import SourceMapping, load_mapping
from identity.normalise import normalise_name
from identity.readers import read_file
from identity.rules import load_rules
from service.app import create_app
from service.config import Settings
from tests.service.conftest import MAX_BODY, Api
from tests.store.conftest import BACKENDS

pytestmark = pytest.mark.both_stores

PEOPLE: dict[str, Any] = {
    "source": "people",
    "key": "id",
    "phone_region": "GB",
    "priority": 80,
    "identifiers": {"email": "email", "phone": "phone"},
    "attributes": {
        "first": {"name": "first_name", "type": "name"},
        "last": {"name": "last_name", "type": "name"},
        "born": {"name": "birth_date", "type": "date"},
        "postcode": "postcode",
        "city": "city",
    },
}


def person(
    key: str, first: str, last: str, born: str, postcode: str, **more: str
) -> dict[str, str]:
    return {"id": key, "first": first, "last": last, "born": born, "postcode": postcode, **more}


CRAFTED = [
    person(
        "john", "John", "Smith", "1980-03-14", "SW1A 1AA", city="London",
        email="j.smith.1980@gmail.com", phone="07400 123101",
    ),
    person("mary", "Mary", "Smith", "1982-07-09", "SW1A 1AA", city="London"),  # his wife
    person("jonah", "Jonah", "Smith", "1951-01-02", "LS1 4AP", city="Leeds"),  # sounds like John
    person("robert", "Robert", "Brown", "1969-05-30", "EH1 1YZ", city="Edinburgh"),
    person("boris", "Boris", "Brown", "1990-12-01", "G1 1XQ", city="Glasgow"),
    person("catherine", "Catherine", "Wilson", "1975-02-20", "CF10 1EP", city="Cardiff"),
    person("caroline", "Caroline", "Wilson", "1977-08-15", "CF10 1EP", city="Cardiff"),
    person("david_b1", "David", "Jones", "1985-06-01", "B1 1AA", city="Birmingham"),
    person("david_ne1", "David", "Jones", "1962-10-30", "NE1 7RU", city="Newcastle"),
]  # fmt: skip
SEARCHED = {
    ("john", "smith"),
    ("mary", "smith"),
    ("bob", "brown"),
    ("robert", "brown"),
    ("catherine", "wilson"),
    ("caroline", "wilson"),
    ("david", "jones"),
}
"""Names no generated record may carry, or a namesake could rightly tie with ours."""

SEARCH = """query ($name: String, $postcode: String, $birthDate: String, $email: String,
                  $phone: String, $first: Int = 20, $after: String) {
  searchProfiles(name: $name, postcode: $postcode, birthDate: $birthDate, email: $email,
                 phone: $phone, first: $first, after: $after) {
    totalCount ranking notes
    pageInfo { hasNextPage endCursor }
    edges { cursor node { rank } }
    nodes {
      rank profileId score probability record { source key }
      fields { field level weight searched found }
      profile { id attributes { name value } records { source key } }
    }
  }
}"""


def generated_names(files_dir: Path) -> set[tuple[str, str]]:
    names = set()
    for path in files_dir.iterdir():
        if path.suffix not in (".csv", ".jsonl"):
            continue
        for _, row in read_file(path, path.suffix.lstrip(".")):
            assert isinstance(row, dict)
            first, last = row.get("first_name"), row.get("last_name")
            names.add((normalise_name(str(first or "")), normalise_name(str(last or ""))))
    return names


@pytest.fixture(scope="module")
def graph(store_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentityGraph]:
    """300 generated people and the crafted ones, with a model trained on all of them; built
    once per store and only read by the tests."""
    tmp = tmp_path_factory.mktemp("search")
    files = generate(tmp / "demo", people=300, seed=5)
    assert not generated_names(tmp / "demo") & SEARCHED, "pick another generator seed"
    opened = IdentityGraph(BACKENDS[store_backend](tmp), load_rules(None))
    for path in sorted(files.mappings_dir.glob("*.toml")):
        opened.ingest.register_source(load_mapping(path, rules=opened.rules))
    for source, path in sorted(files.files.items()):
        opened.ingest.ingest_rows(source, read_file(path, opened.ingest.source(source).format))
    opened.ingest.register_source(SourceMapping.from_document(PEOPLE, rules=opened.rules))
    opened.ingest.ingest_rows("people", enumerate(CRAFTED, start=1))
    matcher = opened.probabilistic()
    matcher.train()
    matcher.link_all()
    yield opened
    opened.close()


def search(api: Api, role: str = "pii", **criteria: Any) -> dict[str, Any]:
    result = api.graphql(SEARCH, role=role, **criteria)
    assert "errors" not in result, result
    found: dict[str, Any] = result["data"]["searchProfiles"]
    return found


def error_of(api: Api, **criteria: Any) -> dict[str, Any]:
    result = api.graphql(SEARCH, **criteria)
    assert result["data"] is None, result
    (error,) = result["errors"]
    found: dict[str, Any] = error
    return found


def keys(node: dict[str, Any]) -> set[str]:
    return {r["key"] for r in node["profile"]["records"] if r["source"] == "people"}


def fields(node: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["field"]: f for f in node["fields"]}


def test_smith_comma_john_finds_john_smiths_profile_first_and_says_why(api: Api) -> None:
    found = search(api, name="Smith, John")
    assert found["ranking"] == "MATCH_MODEL" and found["notes"] == []
    best, *others = found["nodes"]
    assert keys(best) == {"john"} and best["rank"] == 1
    assert best["record"] == {"source": "people", "key": "john"}
    first_name, last_name = fields(best)["first_name"], fields(best)["last_name"]
    assert (first_name["level"], first_name["searched"], first_name["found"]) == (
        "exact",
        "john",
        "john",
    )
    assert (last_name["level"], last_name["searched"], last_name["found"]) == (
        "exact",
        "smith",
        "smith",
    )
    # Smith is common among the stored records and John is not: term frequencies make the
    # shared surname the weaker evidence, as they do when the matcher links two records.
    assert 0 < last_name["weight"] < first_name["weight"]
    # The score is a match weight (the model's prior log-odds plus the fields' weights), the
    # probability its odds as a chance; Jonah, who sounds like John, comes later and lower.
    assert best["probability"] == pytest.approx(2 ** best["score"] / (1 + 2 ** best["score"]))
    jonah = next(n for n in others if keys(n) == {"jonah"})
    assert fields(jonah)["first_name"]["level"] == "same_sound"
    assert jonah["score"] < best["score"]
    assert [n["rank"] for n in found["nodes"]] == list(range(1, len(found["nodes"]) + 1))
    assert best["profile"]["id"] == best["profileId"]


def test_a_nickname_finds_the_full_name_above_a_namesake_of_the_surname(api: Api) -> None:
    found = search(api, name="Bob Brown")
    order = [keys(n) for n in found["nodes"] if keys(n)]
    assert order[:2] == [{"robert"}, {"boris"}]
    robert, boris = (n for n in found["nodes"] if keys(n) in ({"robert"}, {"boris"}))
    assert fields(robert)["first_name"]["level"] == "nickname"
    assert fields(boris)["first_name"]["level"] == "else"
    assert fields(boris)["first_name"]["weight"] < 0 < fields(robert)["first_name"]["weight"]


def test_a_typo_ranks_the_right_person_above_her_sister(api: Api) -> None:
    found = search(api, name="Catherine Wilsen")
    assert keys(found["nodes"][0]) == {"catherine"}
    caroline = next(n for n in found["nodes"] if keys(n) == {"caroline"})
    assert fields(found["nodes"][0])["last_name"]["level"] == "jaro_winkler_0.92"
    assert fields(caroline)["first_name"]["level"] == "else"


def test_a_postcode_and_a_birth_date_tell_namesakes_apart(api: Api) -> None:
    by_name = [keys(n) for n in search(api, name="David Jones")["nodes"]]
    assert by_name[:2] in ([{"david_b1"}, {"david_ne1"}], [{"david_ne1"}, {"david_b1"}])

    found = search(api, name="David Jones", postcode="b1 1aa", birthDate="01/06/1985")
    first, second = found["nodes"][:2]
    assert (keys(first), keys(second)) == ({"david_b1"}, {"david_ne1"})
    assert {f: fields(first)[f]["level"] for f in ("postcode", "birth_date")} == {
        "postcode": "exact",
        "birth_date": "exact",
    }
    assert fields(first)["birth_date"]["searched"] == "1985-06-01"  # read day first
    for name in ("postcode", "birth_date"):
        assert fields(second)[name]["level"] == "else"
        assert fields(second)[name]["weight"] < 0
    assert first["score"] - second["score"] > 20  # bits: about a million to one


def test_an_email_or_a_phone_finds_the_person_as_ingest_normalised_them(api: Api) -> None:
    # Gmail ignores dots and +tags, googlemail.com is gmail.com; the national number is read
    # in the sources' phone region (GB), as ingest read it.
    by_email = search(api, email="J.Smith1980+shop@googlemail.com")["nodes"]
    assert keys(by_email[0]) == {"john"}
    assert fields(by_email[0])["email"]["level"] == "exact"
    by_phone = search(api, name="John Smith", phone="07400 123101")["nodes"]
    assert keys(by_phone[0]) == {"john"}
    assert fields(by_phone[0])["phone"] == {
        "field": "phone", "level": "exact", "weight": pytest.approx(9, abs=3),
        "searched": "+447400123101", "found": "+447400123101",
    }  # fmt: skip


def test_without_pii_read_values_are_masked_and_weights_are_not(api: Api) -> None:
    criteria = {"name": "Smith, John", "postcode": "SW1A 1AA", "email": "j.smith.1980@gmail.com"}
    full = search(api, **criteria)["nodes"][0]
    masked = search(api, role="reader", **criteria)["nodes"][0]
    assert (masked["profileId"], masked["score"]) == (full["profileId"], full["score"])
    shown = {
        f["field"]: (f["level"], f["weight"], f["searched"], f["found"]) for f in masked["fields"]
    }
    weights = {f["field"]: f["weight"] for f in full["fields"]}
    assert shown == {
        "first_name": ("exact", weights["first_name"], "j***", "j***"),
        "last_name": ("exact", weights["last_name"], "s***", "s***"),
        "postcode": ("exact", weights["postcode"], "***", "***"),
        "email": ("exact", weights["email"], "j***@g***.com", "j***@g***.com"),
    }
    attributes = {a["name"]: a["value"] for a in masked["profile"]["attributes"]}
    assert attributes["first_name"] == "J***" and attributes["birth_date"] == "****-**-**"
    assert attributes["city"] == "London"  # not personal


def test_pages_follow_the_ranking_and_a_cursor_belongs_to_its_search(api: Api) -> None:
    criteria = {"name": "John Smith", "postcode": "SW1A 1AA"}
    whole = search(api, first=100, **criteria)
    assert whole["totalCount"] == len(whole["nodes"]) >= 3
    assert whole["pageInfo"] == {"hasNextPage": False, "endCursor": whole["edges"][-1]["cursor"]}
    scores = [n["score"] for n in whole["nodes"]]
    assert scores == sorted(scores, reverse=True)

    seen: list[dict[str, Any]] = []
    after = None
    while True:
        page = search(api, first=2, after=after, **criteria)
        assert page["totalCount"] == whole["totalCount"]
        seen += page["nodes"]
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    assert [(n["profileId"], n["rank"]) for n in seen] == [
        (n["profileId"], n["rank"]) for n in whole["nodes"]
    ]

    other = error_of(api, name="Mary Smith", first=2, after=whole["edges"][0]["cursor"])
    assert other["extensions"]["code"] == "INVALID_CURSOR"
    assert error_of(api, name="John Smith", after="bogus")["extensions"]["code"] == "INVALID_CURSOR"


@pytest.mark.parametrize(
    ("criteria", "argument", "message"),
    [
        ({}, None, "give at least one of name, postcode, birthDate, email, phone"),
        ({"name": " ", "email": ""}, None, "give at least one of name"),
        ({"name": "John Smith", "first": 0}, "first", "first must be between 1 and 100"),
        ({"name": "John Smith", "first": 101}, "first", "first must be between 1 and 100"),
        ({"name": "John Smith", "birthDate": "31/02/1980"}, "birthDate", "birthDate: not a date"),
        ({"name": "John Smith", "birthDate": "14/03/80"}, "birthDate", "year in full"),
        ({"email": "john.smith"}, "email", "email: "),
        ({"phone": "12"}, "phone", "phone: "),
        ({"name": "Lee", "postcode": "SW1A 1AA", "phone": "+44"}, "phone", "phone: "),
        ({"name": "a b c d e f"}, "name", "name: at most 5 words"),
        ({"postcode": "SW1A 1AA"}, "postcode", "postcode: these criteria find no candidates"),
        ({"name": "Smith"}, "name", "search with a last name (in name) and a first name"),
        ({"email": "TEST@test.com"}, "email", "email: on the blocklist"),
    ],
)
def test_bad_input_is_refused_naming_the_argument(
    api: Api, criteria: dict[str, Any], argument: str | None, message: str
) -> None:
    error = error_of(api, **criteria)
    assert error["extensions"]["code"] == "INVALID_ARGUMENT"
    assert error["extensions"].get("argument") == argument
    assert message in error["message"]


def test_a_blocklisted_value_is_left_out_and_the_result_says_so(api: Api) -> None:
    found = search(api, name="Smith, John", email="test@test.com")
    assert keys(found["nodes"][0]) == {"john"}
    assert "email" not in fields(found["nodes"][0])
    assert found["notes"] == ["the email is on the blocklist: it is neither looked up nor compared"]


def test_searching_needs_profiles_read(api: Api) -> None:
    result = api.graphql(SEARCH, role="activator", name="Smith, John")
    assert [e["extensions"]["code"] for e in result["errors"]] == ["FORBIDDEN"]


@pytest.fixture
def untrained_api(
    store_backend: str, tmp_path: Path, tokens: dict[str, str], tokens_file: Path
) -> Iterator[Callable[[], Api]]:
    """The crafted people alone in a store without a trained model.

    On Neo4j this empties the one graph the module's shared ``graph`` lives in: keep the
    tests using it last in the module."""
    with ExitStack() as stack:
        opened = IdentityGraph(BACKENDS[store_backend](tmp_path), load_rules(None))
        stack.callback(opened.close)
        opened.ingest.register_source(SourceMapping.from_document(PEOPLE, rules=opened.rules))
        opened.ingest.ingest_rows("people", enumerate(CRAFTED, start=1))
        settings = Settings(tokens_file=tokens_file, max_body_bytes=MAX_BODY)

        def make() -> Api:
            client = stack.enter_context(TestClient(create_app(settings, opened)))
            return Api(client, tokens)

        yield make


def test_without_a_trained_model_comparison_levels_rank_and_the_result_says_so(
    untrained_api: Callable[[], Api],
) -> None:
    found = search(untrained_api(), name="Smith, John", postcode="SW1A 1AA")
    assert found["ranking"] == "COMPARISON_LEVELS"
    assert found["notes"][0].startswith("no trained match model (run `idgraph train`)")
    john, mary, *_ = found["nodes"]
    assert (keys(john), keys(mary)) == ({"john"}, {"mary"})
    # Level points: 1 per exact field; Mary's first name disagrees (-1).
    assert (john["score"], john["probability"]) == (3.0, None)
    assert fields(mary)["first_name"] == {
        "field": "first_name", "level": "else", "weight": -1.0, "searched": "john",
        "found": "mary",
    }  # fmt: skip
    assert mary["score"] == 1.0
