"""Source mappings: validated declaratively; rows mapped with per-field errors and warnings."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from identity.errors import ConfigError
from identity.honorifics import honorifics, parse_honorifics
from identity.mapping import RecordMapper, SourceMapping, load_mapping
from identity.mapping.events import EventMapping, EventRowMapper
from identity.mapping.regions import region_code
from identity.matching.names import name_words
from identity.model import IdentifierKey
from identity.normalise import Normaliser, normalise_name
from identity.readers import read_file
from identity.rules import load_rules

RULES = load_rules()
SHOP: dict[str, Any] = {
    "source": "shop",
    "key": "account",
    "timestamp": "updated",
    "timestamp_format": "%d/%m/%Y %H:%M",
    "timezone": "Europe/London",
    "phone_region": "GB",
    "priority": 60,
    "identifiers": {
        "account": "account_id",
        "email": "email",
        "mobile": "phone",
        "other_emails": {"kind": "email", "split": ";"},
    },
    "attributes": {
        "first": {"name": "first_name", "type": "name"},
        "dob": {"name": "birth_date", "type": "date", "format": "%d/%m/%Y"},
        "spend": {"name": "lifetime_spend", "type": "number"},
        "opt_in": {"name": "marketing_opt_in", "type": "boolean"},
        "town": "city",
    },
}


def mapper(doc: dict[str, Any] = SHOP) -> RecordMapper:
    return RecordMapper(SourceMapping.from_document(doc, rules=RULES), Normaliser(RULES))


def test_a_row_becomes_a_record_with_normalised_identifiers_and_typed_attributes() -> None:
    row = {
        "account": "Ann_Lee",
        "email": "Ann.Lee@Example.com",
        "mobile": "07400 123456",
        "other_emails": "ann@work.example.com; ann.lee@example.com",
        "first": " Zoë ",
        "dob": "31/01/1990",
        "spend": "120.50",
        "opt_in": "yes",
        "town": "Leeds",
        "updated": "01/07/2024 10:30",
        "favourite_colour": "green",
        "empty": "",
    }
    mapped = mapper().map_row(row, 7)
    assert mapped.errors == [] and mapped.warnings == []
    record = mapped.record
    assert record is not None
    assert (record.source, record.key) == ("shop", "Ann_Lee")
    assert [i.key for i in record.identifiers] == [
        IdentifierKey("account_id", "ann_lee"),
        IdentifierKey("email", "ann.lee@example.com"),
        IdentifierKey("phone", "+447400123456"),
        IdentifierKey("email", "ann@work.example.com"),
    ]
    assert record.identifiers[1].original == "Ann.Lee@Example.com"
    assert record.attributes == {
        "first_name": "Zoë",
        "birth_date": "1990-01-31",
        "lifetime_spend": 120.5,
        "marketing_opt_in": True,
        "city": "Leeds",
        "favourite_colour": "green",  # unknown fields are kept (schemaless)
    }
    # 10:30 in London in July is 09:30 UTC.
    assert record.timestamp == datetime(2024, 7, 1, 9, 30, tzinfo=UTC)
    assert record.raw == row


def test_a_row_without_its_key_is_rejected_naming_the_row_and_field() -> None:
    mapped = mapper().map_row({"email": "ann@example.com"}, 3)
    assert mapped.record is None
    [error] = mapped.errors
    assert (error.row, error.field) == (3, "account")


def test_invalid_values_are_warned_about_kept_raw_and_never_linked() -> None:
    row = {
        "account": "a1",
        "email": "not-an-email",
        "mobile": "12",
        "dob": "31/02/1990",
        "spend": "lots",
        "updated": "yesterday",
    }
    mapped = mapper().map_row(row, 5)
    record = mapped.record
    assert record is not None
    assert [i.kind for i in record.identifiers] == ["account_id"]
    assert {w.field for w in mapped.warnings} == {"email", "mobile", "dob", "spend", "updated"}
    assert all(w.row == 5 and w.key == "a1" for w in mapped.warnings)
    assert record.raw["email"] == "not-an-email"
    assert record.attributes["birth_date"] == "31/02/1990"  # kept as written
    assert record.timestamp is None


def test_json_arrays_and_numbers_are_accepted_as_identifier_values() -> None:
    doc = {"source": "app", "key": "id", "identifiers": {"id": "customer_id", "emails": "email"}}
    mapped = mapper(doc).map_row({"id": 42, "emails": ["a@example.com", "b@example.com"]}, 1)
    assert mapped.record is not None
    assert mapped.record.key == "42"
    assert [i.value for i in mapped.record.identifiers] == ["42", "a@example.com", "b@example.com"]


def test_unknown_fields_are_dropped_only_when_asked() -> None:
    mapped = mapper({**SHOP, "keep_unknown": False}).map_row({"account": "a", "x": "1"}, 1)
    assert mapped.record is not None and "x" not in mapped.record.attributes


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"source": "Web Shop"}, "source"),
        ({"key": ""}, "key"),
        ({"phone_region": "XX"}, "phone_region"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"priority": "high"}, "priority"),
        ({"format": "xlsx"}, "format"),
        ({"identifiers": {"pp": "passport"}}, "identifiers.pp"),
        ({"attributes": {"dob": {"name": "birth_date", "type": "when"}}}, "attributes.dob.type"),
        ({"attributes": {"a": "city", "b": "city"}}, "attributes.b.name"),
        ({"colour": "blue"}, "colour"),
        ({"encoding": "klingon"}, "encoding"),
        ({"encoding": "rot13"}, "encoding"),
        ({"encoding": 8}, "encoding"),
        ({"allow_multiline": "yes"}, "allow_multiline"),
    ],
)
def test_bad_mappings_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        SourceMapping.from_document({**SHOP, **change}, path="shop.toml", rules=RULES)
    assert caught.value.field == field
    assert "shop.toml" in str(caught.value)


def test_a_mapping_round_trips_through_its_document() -> None:
    mapping = SourceMapping.from_document(SHOP, rules=RULES)
    assert SourceMapping.from_document(mapping.to_document(), rules=RULES) == mapping
    windows = {**SHOP, "encoding": "cp1252", "allow_multiline": True}
    mapping = SourceMapping.from_document(windows, rules=RULES)
    assert (mapping.encoding, mapping.allow_multiline) == ("cp1252", True)
    assert SourceMapping.from_document(mapping.to_document(), rules=RULES) == mapping


def test_the_packaged_demo_mappings_load() -> None:
    folder = Path(__file__).resolve().parents[2] / "identity" / "demo" / "mappings"
    loaded = [load_mapping(p, rules=RULES) for p in sorted(folder.glob("*.toml"))]
    assert [m.source for m in loaded] == ["crm", "marketing", "pos", "support", "webshop"]


# -- nested JSON paths ------------------------------------------------------------------------

NESTED: dict[str, Any] = {
    "source": "app",
    "key": "user.id",
    "phone_region": "GB",
    "identifiers": {
        "contact.email": "email",
        "phones[*].number": "phone",
    },
    "attributes": {
        "addresses[0].postcode": "postcode",
        "contact.name.first": {"name": "first_name", "type": "name"},
    },
}
NESTED_ROW: dict[str, Any] = {
    "user": {"id": 7},
    "contact": {"email": "Ann@Example.com", "name": {"first": "Ann"}},
    "phones": [{"number": "07400 123456"}, {"number": "+44 7400 654321"}, {"type": "fax"}],
    "addresses": [{"postcode": "LS1 4AP"}, {"postcode": "M1 1AA"}],
    "tier": "gold",
}


def test_nested_paths_reach_into_objects_and_every_element_of_an_array() -> None:
    mapped = mapper(NESTED).map_row(NESTED_ROW, 1)
    assert mapped.errors == [] and mapped.warnings == []
    record = mapped.record
    assert record is not None and record.key == "7"
    assert [i.key for i in record.identifiers] == [
        IdentifierKey("email", "ann@example.com"),
        IdentifierKey("phone", "+447400123456"),
        IdentifierKey("phone", "+447400654321"),
    ]
    # The objects a path reads from are in the raw data, not repeated as attributes.
    assert record.attributes == {"postcode": "LS1 4AP", "first_name": "Ann", "tier": "gold"}
    assert record.raw == NESTED_ROW


def test_a_missing_step_of_a_path_is_no_value_not_an_error() -> None:
    row = {"user": {"id": "u1"}, "contact": "not an object", "addresses": []}
    mapped = mapper(NESTED).map_row(row, 1)
    assert mapped.errors == [] and mapped.warnings == []
    assert mapped.record is not None and mapped.record.identifiers == ()


def test_a_column_named_like_a_path_is_read_as_that_column() -> None:
    doc = {"source": "crm", "key": "id", "identifiers": {"e.mail": "email"}}
    mapped = mapper(doc).map_row({"id": "1", "e.mail": "a@example.com"}, 1)
    assert mapped.record is not None
    assert [i.value for i in mapped.record.identifiers] == ["a@example.com"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"identifiers": {"phones[x].number": "phone"}}, "identifiers.phones[x].number"),
        ({"identifiers": {"contact..email": "email"}}, "identifiers.contact..email"),
        ({"attributes": {"addresses[0.postcode": "postcode"}}, "attributes.addresses[0.postcode"),
        ({"attributes": {"addresses[*].postcode": "postcode"}}, "attributes.addresses[*].postcode"),
        ({"key": "users[*].id"}, "key"),
        ({"timestamp": "meta.[0]"}, "timestamp"),
    ],
)
def test_a_path_that_cannot_be_read_is_refused_at_load_naming_the_field(
    change: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        SourceMapping.from_document({**NESTED, **change}, path="app.toml", rules=RULES)
    assert caught.value.field == field
    assert "app.toml" in str(caught.value)


def test_a_json_lines_file_is_read_nested_and_mapped_through_its_paths(tmp_path: Path) -> None:
    file = tmp_path / "app.jsonl"
    file.write_text(json.dumps(NESTED_ROW) + "\n", "utf-8")
    [(number, row)] = list(read_file(file))
    assert isinstance(row, dict) and row["phones"][0] == {"number": "07400 123456"}
    record = mapper(NESTED).map_row(row, number).record
    assert record is not None and len(record.identifiers) == 3


# -- phone region per row ---------------------------------------------------------------------

BY_COUNTRY: dict[str, Any] = {
    "source": "crm",
    "key": "id",
    "phone_region": {"field": "country", "default": "GB"},
    "identifiers": {"phone": "phone"},
}


@pytest.mark.parametrize(
    ("country", "phone", "expected"),
    [
        ("GB", "07400 123456", "+447400123456"),
        ("us", "(201) 555-0123", "+12015550123"),
        ("United Kingdom", "07400 123456", "+447400123456"),
        ("USA", "201-555-0123", "+12015550123"),
        ("India", "098765 43210", "+919876543210"),
        ("Poland", "512 345 678", "+48512345678"),
        ("Germany", "030 12345678", "+493012345678"),
        ("Kenya", "0712 345678", "+254712345678"),
        ("China", "138 0013 8000", "+8613800138000"),
        ("Thailand", "081 234 5678", "+66812345678"),
        ("", "07400 123456", "+447400123456"),  # no country: the default
    ],
)
def test_a_phone_is_read_in_the_region_of_its_rows_country(
    country: str, phone: str, expected: str
) -> None:
    mapped = mapper(BY_COUNTRY).map_row({"id": "1", "country": country, "phone": phone}, 1)
    assert mapped.warnings == []
    assert mapped.record is not None
    assert [i.value for i in mapped.record.identifiers] == [expected]
    assert mapped.record.attributes.get("country", "") == country  # still an attribute


@pytest.mark.parametrize(
    ("country", "region"),
    [
        ("Republic of India", "IN"),
        ("Federal Republic of Germany", "DE"),
        ("Bundesrepublik Deutschland", "DE"),
        ("Rzeczpospolita Polska", "PL"),
        ("Republic of Kenya", "KE"),
        ("People's Republic of China", "CN"),
        ("PR China", "CN"),
        ("中国", "CN"),
        ("Kingdom of Thailand", "TH"),
        ("ประเทศไทย", "TH"),
        ("Österreich", "AT"),
        ("U.S.A.", "US"),
        ("U.K.", "GB"),
        ("Republic of Korea", "KR"),
        ("Democratic People's Republic of Korea", "KP"),  # not the short name's
        ("Republic of Atlantis", None),
    ],
)
def test_formal_names_and_a_countrys_own_name_give_its_region(
    country: str, region: str | None
) -> None:
    assert region_code(country) == region


def test_an_unknown_country_is_warned_about_with_its_value_and_the_default_used() -> None:
    row = {"id": "1", "country": "Atlantis", "phone": "07400 123456"}
    mapped = mapper(BY_COUNTRY).map_row(row, 4)
    [warning] = mapped.warnings
    assert (warning.row, warning.field, warning.value) == (4, "country", "Atlantis")
    assert "Atlantis" not in warning.problem  # the value goes to the CLI only
    assert mapped.record is not None
    assert [i.value for i in mapped.record.identifiers] == ["+447400123456"]


def test_a_phone_region_table_round_trips_and_a_bad_one_is_named() -> None:
    mapping = SourceMapping.from_document(BY_COUNTRY, rules=RULES)
    assert (mapping.phone_region, mapping.phone_region_field) == ("GB", "country")
    assert SourceMapping.from_document(mapping.to_document(), rules=RULES) == mapping
    for bad, field in [
        ({"field": "country", "default": "Atlantis"}, "phone_region.default"),
        ({"field": "country", "fallback": "GB"}, "phone_region.fallback"),
        ({"default": "GB"}, "phone_region.field"),
        ({"field": "c[x]"}, "phone_region.field"),
    ]:
        with pytest.raises(ConfigError) as caught:
            SourceMapping.from_document({**BY_COUNTRY, "phone_region": bad}, rules=RULES)
        assert caught.value.field == field


# -- dates in several formats -----------------------------------------------------------------


def dates(spec: dict[str, Any]) -> RecordMapper:
    return mapper({"source": "crm", "key": "id", "attributes": {"dob": spec}})


def birth_date(m: RecordMapper, written: str) -> Any:
    mapped = m.map_row({"id": "1", "dob": written}, 1)
    assert mapped.record is not None
    return mapped.record.attributes["birth_date"]


def test_the_first_of_several_date_formats_that_reads_a_value_wins() -> None:
    m = dates(
        {"name": "birth_date", "type": "date", "formats": ["%Y-%m-%d", "%d/%m/%Y", "%d %b %Y"]}
    )
    assert birth_date(m, "1990-01-31") == "1990-01-31"
    assert birth_date(m, "31/01/1990") == "1990-01-31"
    assert birth_date(m, "31 Jan 1990") == "1990-01-31"


@pytest.mark.parametrize(("day_first", "expected"), [(True, "1990-04-03"), (False, "1990-03-04")])
def test_an_ambiguous_numeric_date_follows_day_first(day_first: bool, expected: str) -> None:
    both = ["%m/%d/%Y", "%d/%m/%Y"]
    spec = {"name": "birth_date", "type": "date", "formats": both, "day_first": day_first}
    assert birth_date(dates(spec), "03/04/1990") == expected
    # Without formats, day_first brings the common forms in the hinted order.
    common = {"name": "birth_date", "type": "date", "day_first": day_first}
    assert birth_date(dates(common), "03/04/1990") == expected
    assert birth_date(dates(common), "1990-04-03") == "1990-04-03"  # ISO is never ambiguous
    assert birth_date(dates(common), "3 April 1990") == "1990-04-03"


def test_a_date_no_format_reads_is_warned_about_with_the_formats_and_its_value() -> None:
    m = dates({"name": "birth_date", "type": "date", "formats": ["%Y-%m-%d", "%d/%m/%Y"]})
    mapped = m.map_row({"id": "1", "dob": "31/02/1990"}, 2)
    [warning] = mapped.warnings
    assert warning.field == "dob" and warning.value == "31/02/1990"
    assert "%Y-%m-%d or %d/%m/%Y" in warning.problem
    assert mapped.record is not None and mapped.record.attributes["birth_date"] == "31/02/1990"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"type": "date", "formats": ["%Y-%m-%d", "%Q"]}, "attributes.dob.formats[1]"),
        ({"type": "date", "formats": ["31/01/1990"]}, "attributes.dob.formats[0]"),
        ({"type": "date", "formats": "%Y"}, "attributes.dob.formats"),
        ({"type": "date", "format": "%Y", "formats": ["%Y"]}, "attributes.dob.formats"),
        ({"type": "date", "day_first": "yes"}, "attributes.dob.day_first"),
        ({"type": "string", "day_first": True}, "attributes.dob.day_first"),
    ],
)
def test_bad_date_options_are_refused_naming_their_place(spec: dict[str, Any], field: str) -> None:
    doc = {"source": "crm", "key": "id", "attributes": {"dob": {"name": "birth_date", **spec}}}
    with pytest.raises(ConfigError) as caught:
        SourceMapping.from_document(doc, path="crm.toml", rules=RULES)
    assert caught.value.field == field


def test_date_formats_round_trip_through_the_document() -> None:
    spec = {"name": "birth_date", "type": "date", "formats": ["%d/%m/%Y"], "day_first": True}
    mapping = SourceMapping.from_document(
        {"source": "crm", "key": "id", "attributes": {"dob": spec}}, rules=RULES
    )
    assert SourceMapping.from_document(mapping.to_document(), rules=RULES) == mapping


# -- full names -------------------------------------------------------------------------------


def names(written: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    doc = {
        "source": "crm",
        "key": "id",
        "attributes": {"name": {"name": "full_name", "type": "full_name"}, **(extra or {})},
    }
    mapped = mapper(doc).map_row({"id": "1", "name": written, "given": "Annie"}, 1)
    assert mapped.record is not None and mapped.warnings == []
    return dict(mapped.record.attributes)


@pytest.mark.parametrize(
    ("written", "parts"),
    [
        ("Ann Lee", {"first_name": "Ann", "last_name": "Lee"}),
        ("Lee, Ann", {"first_name": "Ann", "last_name": "Lee"}),
        ("J. Smith", {"first_name": "J", "last_name": "Smith"}),
        ("Mrs J. Smith", {"title": "Mrs", "first_name": "J", "last_name": "Smith"}),
        (
            "Dr Ann Mary  Lee-Jones Jr.",
            {
                "title": "Dr",
                "first_name": "Ann",
                "middle_name": "Mary",
                "last_name": "Lee-Jones",
                "suffix": "Jr.",
            },
        ),
        ("王小明", {"last_name": "王", "first_name": "小明"}),
        ("欧阳修", {"last_name": "欧阳", "first_name": "修"}),
        ("佐藤 健", {"last_name": "佐藤", "first_name": "健"}),
        ("김민수", {"last_name": "김", "first_name": "민수"}),
    ],
)
def test_a_full_name_is_parsed_into_the_parts_the_matcher_compares(
    written: str, parts: dict[str, str]
) -> None:
    attributes = names(written)
    assert attributes.pop("full_name") == written.strip()
    assert attributes == {**parts, "given": "Annie"}


@pytest.mark.parametrize(
    ("written", "parts"),
    [
        # Polish and Ukrainian: pan (Mr), pani (Mrs, Ms), panna (Miss), with the surname.
        ("Pan J. Rutecki", {"title": "Pan", "first_name": "J", "last_name": "Rutecki"}),
        (
            "Pani Katarzyna Nowak",
            {"title": "Pani", "first_name": "Katarzyna", "last_name": "Nowak"},
        ),
        ("Pani Kowalska", {"title": "Pani", "last_name": "Kowalska"}),
        ("Пані Олена Коваль", {"title": "Пані", "first_name": "Олена", "last_name": "Коваль"}),
        # Thai: Khun goes with the given name or nickname; Nai, Nang, Nangsao on forms.
        ("Khun Nok", {"title": "Khun", "first_name": "Nok"}),
        ("Khun Somchai Jaidee", {"title": "Khun", "first_name": "Somchai", "last_name": "Jaidee"}),
        ("Nangsao Ploy Srisuk", {"title": "Nangsao", "first_name": "Ploy", "last_name": "Srisuk"}),
        # Indian: Shri / Sri (Mr), Smt. (Mrs), Kumari (Miss).
        ("Smt. Priya Sharma", {"title": "Smt.", "first_name": "Priya", "last_name": "Sharma"}),
        ("Shri Ravi Kumar", {"title": "Shri", "first_name": "Ravi", "last_name": "Kumar"}),
        ("Kumari Anjali Singh", {"title": "Kumari", "first_name": "Anjali", "last_name": "Singh"}),
        # Swahili (Kenya): Bwana (Mr), Bi (Mrs, Ms).
        ("Bi Amina Wanjiru", {"title": "Bi", "first_name": "Amina", "last_name": "Wanjiru"}),
        ("Bwana Otieno", {"title": "Bwana", "last_name": "Otieno"}),
        # German and Spanish, which nameparser knows.
        ("Herr Hans Müller", {"title": "Herr", "first_name": "Hans", "last_name": "Müller"}),
        ("Frau Müller", {"title": "Frau", "last_name": "Müller"}),
        ("Sra. María López", {"title": "Sra.", "first_name": "María", "last_name": "López"}),
        ("Doña Carmen Ruiz", {"title": "Doña", "first_name": "Carmen", "last_name": "Ruiz"}),
        # Titles that are also names: names unless two words follow.
        ("Pan Wei", {"first_name": "Pan", "last_name": "Wei"}),
        ("Sri Mulyani", {"first_name": "Sri", "last_name": "Mulyani"}),
        ("Don Williams", {"first_name": "Don", "last_name": "Williams"}),
        ("Bi Wei", {"first_name": "Bi", "last_name": "Wei"}),
    ],
)
def test_an_honorific_of_the_countries_we_serve_is_a_title_not_a_first_name(
    written: str, parts: dict[str, str]
) -> None:
    attributes = names(written)
    attributes.pop("full_name")
    assert attributes == {**parts, "given": "Annie"}


@pytest.mark.parametrize(
    ("written", "parts"),
    [
        ("ZHANG Wei", {"first_name": "Wei", "last_name": "ZHANG"}),
        ("Wei ZHANG", {"first_name": "Wei", "last_name": "ZHANG"}),
        ("NGUYEN Van An", {"first_name": "Van", "middle_name": "An", "last_name": "NGUYEN"}),
        (
            "Mr LI Jun Jie",
            {"title": "Mr", "first_name": "Jun", "middle_name": "Jie", "last_name": "LI"},
        ),
        ("María GARCÍA LÓPEZ", {"first_name": "María", "last_name": "GARCÍA LÓPEZ"}),
        ("O'BRIEN Siobhan", {"first_name": "Siobhan", "last_name": "O'BRIEN"}),
        # All in one case: capitals say nothing, nameparser's order holds.
        ("JOHN SMITH", {"first_name": "JOHN", "last_name": "SMITH"}),
        ("zhang wei", {"first_name": "zhang", "last_name": "wei"}),
        # Initials, titles and suffixes in capitals are not family names.
        ("J. SMITH", {"first_name": "J", "last_name": "SMITH"}),
        ("JP Morgan", {"first_name": "JP", "last_name": "Morgan"}),
        ("MR John Smith", {"title": "MR", "first_name": "John", "last_name": "Smith"}),
        ("John Smith III", {"first_name": "John", "last_name": "Smith", "suffix": "III"}),
        # A comma already says which part is the surname.
        ("ZHANG, Wei", {"first_name": "Wei", "last_name": "ZHANG"}),
    ],
)
def test_a_word_in_capitals_beside_mixed_case_words_is_the_family_name(
    written: str, parts: dict[str, str]
) -> None:
    attributes = names(written)
    attributes.pop("full_name")
    assert attributes == {**parts, "given": "Annie"}


def test_the_matcher_reads_a_full_name_without_its_honorific() -> None:
    assert name_words(normalise_name("Pan J. Rutecki")) == ("j", "rutecki")
    assert name_words(normalise_name("Khun Nok")) == ("nok",)
    assert name_words(normalise_name("Smt. Priya Sharma")) == ("priya", "sharma")
    assert name_words(normalise_name("Pan Wei")) == ("pan", "wei")


def test_the_packaged_titles_table_names_a_source_for_every_language() -> None:
    table = honorifics()
    assert {"pan", "pani", "khun", "smt", "shri", "kumari"} <= table.titles
    assert "khun" in table.given_name and "pan" in table.also_a_name
    with pytest.raises(ConfigError, match=r"source.*titles\.toml.*field 'xx\.source'"):
        parse_honorifics('[xx]\ntitles = ["Sig"]\n', "titles.toml")
    with pytest.raises(ConfigError, match=r"field 'xx\.also_a_name'"):
        parse_honorifics('[xx]\nsource = "s"\ntitles = ["Sig"]\nalso_a_name = ["Don"]\n')


def test_a_field_mapped_to_a_name_part_wins_over_the_parsed_part() -> None:
    attributes = names("Ann Lee", {"given": {"name": "first_name", "type": "name"}})
    assert (attributes["first_name"], attributes["last_name"]) == ("Annie", "Lee")


# -- derived fields ---------------------------------------------------------------------------

DERIVED: dict[str, Any] = {
    "source": "crm",
    "key": "id",
    "derived": {
        "name": {"concat": ["first", "last"], "sep": " ", "type": "full_name"},
        "city": {"split": "place", "sep": ",", "index": -1},
        "country": {"constant": "GB"},
        "username": {"lower": "login.handle"},
        "email": {"concat": ["user", "domain"], "sep": "@", "kind": "email"},
    },
}


def test_derived_fields_compute_attributes_and_identifiers_from_the_row() -> None:
    row = {
        "id": "1",
        "first": "Ann",
        "last": "Lee",
        "place": "12 High St, Leeds",
        "login": {"handle": "AnnL"},
        "user": "ann",
        "domain": "Example.com",
    }
    mapped = mapper(DERIVED).map_row(row, 1)
    assert mapped.warnings == [] and mapped.record is not None
    attributes = mapped.record.attributes
    assert attributes["name"] == "Ann Lee"
    assert (attributes["first_name"], attributes["last_name"]) == ("Ann", "Lee")
    assert (attributes["city"], attributes["country"]) == ("Leeds", "GB")
    assert attributes["username"] == "annl"
    assert [i.value for i in mapped.record.identifiers] == ["ann@example.com"]
    assert attributes["first"] == "Ann"  # the columns read stay attributes of their own


def test_a_derived_value_from_empty_fields_is_no_value_and_a_bad_one_is_named() -> None:
    mapped = mapper(DERIVED).map_row({"id": "1", "user": "ann", "domain": " "}, 3)
    assert mapped.record is not None and "name" not in mapped.record.attributes
    [warning] = mapped.warnings  # "ann" alone is not an e-mail
    assert (warning.field, warning.value) == ("derived.email", "ann")


MAILBOX: dict[str, Any] = {
    "source": "support",
    "key": "id",
    "derived": {
        "email": {"mailbox": "requester", "part": "address", "kind": "email"},
        "full_name": {"mailbox": "requester", "part": "name", "type": "full_name"},
    },
}


@pytest.mark.parametrize(
    ("requester", "email", "first", "last"),
    [
        ("Ann Lee <Ann.Lee@Example.com>", "ann.lee@example.com", "Ann", "Lee"),
        ('"Lee, Ann" <ann@example.com>', "ann@example.com", "Ann", "Lee"),
        ("<ann@example.com>", "ann@example.com", None, None),
        ("ann@example.com", "ann@example.com", None, None),
        ("Ann Lee", None, "Ann", "Lee"),  # a ticket taken by phone: a name alone
    ],
)
def test_a_mailbox_gives_its_address_as_an_e_mail_and_its_display_name_as_a_full_name(
    requester: str, email: str | None, first: str | None, last: str | None
) -> None:
    mapped = mapper(MAILBOX).map_row({"id": "1", "requester": requester}, 1)
    assert mapped.warnings == [] and mapped.record is not None
    assert [i.value for i in mapped.record.identifiers] == ([email] if email else [])
    attributes = mapped.record.attributes
    assert (attributes.get("first_name"), attributes.get("last_name")) == (first, last)


def test_a_mailbox_whose_address_is_no_e_mail_is_named_as_its_derived_field() -> None:
    mapped = mapper(MAILBOX).map_row({"id": "1", "requester": "Ann <ann@example>"}, 1)
    [warning] = mapped.warnings
    assert (warning.field, warning.value) == ("derived.email", "ann@example")


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"concat": ["first"]}, "derived.x.concat"),
        ({"concat": ["first", 3]}, "derived.x.concat[1]"),
        ({"concat": ["first", "a[x]"]}, "derived.x.concat[1]"),
        ({"split": "place"}, "derived.x.sep"),
        ({"split": "place", "sep": ",", "index": "last"}, "derived.x.index"),
        ({"lower": "a", "index": 1}, "derived.x.index"),
        ({"constant": "GB", "lower": "a"}, "derived.x"),
        ({"upper": "a"}, "derived.x.upper"),
        ({"lower": "a", "kind": "passport"}, "derived.x.kind"),
        ({"lower": "a", "type": "colour"}, "derived.x.type"),
        ({"lower": "a", "type": "string", "day_first": True}, "derived.x.day_first"),
        ("first", "derived.x"),
        ({"split": "a", "sep": ",", "part": "name"}, "derived.x.part"),
        ({"mailbox": "a", "part": "domain"}, "derived.x.part"),
    ],
)
def test_bad_derived_fields_are_refused_naming_their_place(spec: Any, field: str) -> None:
    doc = {"source": "crm", "key": "id", "derived": {"x": spec}}
    with pytest.raises(ConfigError) as caught:
        SourceMapping.from_document(doc, path="crm.toml", rules=RULES)
    assert caught.value.field == field
    assert "crm.toml" in str(caught.value)


def test_a_derived_name_already_taken_by_an_attribute_is_refused() -> None:
    doc = {**DERIVED, "attributes": {"town": "city"}}
    with pytest.raises(ConfigError) as caught:
        SourceMapping.from_document(doc, rules=RULES)
    assert caught.value.field == "derived.city"


def test_derived_fields_round_trip_through_the_document() -> None:
    for doc in (DERIVED, MAILBOX):
        mapping = SourceMapping.from_document(doc, rules=RULES)
        assert SourceMapping.from_document(mapping.to_document(), rules=RULES) == mapping


# -- one-line addresses -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "postcode", "city"),
    [
        ("12 High St, Leeds LS1 4AP", "LS1 4AP", "Leeds"),
        ("12 High St, Leeds, ls14ap, United Kingdom", "LS1 4AP", "Leeds"),
        ("1600 Amphitheatre Pkwy, Mountain View, CA 94043", "94043", "Mountain View"),
        ("350 Fifth Avenue, New York, NY 10118-0110, USA", "10118-0110", "New York"),
        ("12 MG Road, Bangalore - 560 001, India", "560001", "Bangalore"),
        ("ul. Marszałkowska 1, 00-950 Warszawa", "00-950", "Warszawa"),
        ("Unter den Linden 5, 10117 Berlin", "10117", "Berlin"),
        ("P.O. Box 12345-00100, Nairobi, Kenya", "00100", "Nairobi"),
        ("88 Jianguo Road, Chaoyang District, Beijing 100022", "100022", "Beijing"),
        ("99 Sukhumvit Rd, Khlong Toei, Bangkok 10110", "10110", "Bangkok"),
        ("12 High Street, Leeds, United Kingdom", None, "Leeds"),
        ("12 High Street", None, None),
    ],
)
def test_a_one_line_address_yields_its_postcode_and_city(
    written: str, postcode: str | None, city: str | None
) -> None:
    doc = {
        "source": "crm",
        "key": "id",
        "attributes": {"addr": {"name": "address", "type": "address"}},
    }
    mapped = mapper(doc).map_row({"id": "1", "addr": written}, 1)
    assert mapped.record is not None and mapped.warnings == []
    attributes = mapped.record.attributes
    assert attributes["address"] == written
    assert (attributes.get("postcode"), attributes.get("city")) == (postcode, city)


# -- event mappings ---------------------------------------------------------------------------

EVENTS: dict[str, Any] = {
    "event_id": "id",
    "type": "action",
    "timestamp": "when",
    "timestamp_format": "%d/%m/%Y %H:%M",
    "timezone": "Europe/London",
    "phone_region": {"field": "country", "default": "GB"},
    "identifiers": {"cookie": "cookie_id", "device.id": "device_id", "user.phone": "phone"},
}


def test_an_event_row_of_any_shape_becomes_the_event_object() -> None:
    mapping = EventMapping.from_document(EVENTS, rules=RULES)
    row: dict[str, Any] = {
        "id": "e1",
        "action": "login",
        "when": "01/07/2024 10:30",
        "country": "Kenya",
        "cookie": "c-81f",
        "device": {"id": "D-1"},
        "user": {"phone": "0712 345678"},
        "page": "/account",
    }
    event = EventRowMapper(mapping, Normaliser(RULES)).to_event(row)
    assert event == {
        "event_id": "e1",
        "type": "login",
        "timestamp": "2024-07-01T10:30:00+01:00",
        "identifiers": {
            "cookie_id": ["c-81f"],
            "device_id": ["D-1"],
            "phone": ["+254712345678"],  # read in the row's country
        },
        "properties": {"country": "Kenya", "page": "/account"},
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_id": None}, "event_id"),
        ({"identifiers": {}}, "identifiers"),
        ({"identifiers": {"cookie": "biscuit"}}, "identifiers.cookie"),
        ({"type": {"value": "x"}}, "type.value"),
        ({"timestamp": "when[*]"}, "timestamp"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_event_mappings_name_the_field(change: dict[str, Any], field: str) -> None:
    doc = {k: v for k, v in {**EVENTS, **change}.items() if v is not None}
    with pytest.raises(ConfigError) as caught:
        EventMapping.from_document(doc, path="events.toml", rules=RULES)
    assert caught.value.field == field
