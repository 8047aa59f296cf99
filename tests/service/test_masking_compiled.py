"""The compiled masker of exports (``Masker.row_masker``, ``Masker.column``) and the E.164
shortcut of ``mask_phone`` show exactly what the per-value path shows.

The per-value path (``Masker.field``) is the reference: GraphQL uses it, and a segment
export masked each value through it before. The row masker decides once per column what
``field`` decides per value; ``mask_phone`` reads an E.164 value's calling code without
libphonenumber, and ``mask_phone_parsed`` is the libphonenumber reading it must agree with
(the phone mask as it was). Equal output is checked on generated names and values, and on
the demo's people exported over HTTP, byte for byte.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from identity.catalog import TRAIT_FIELDS
from identity.demo.generator import generate
from identity.export import computed_field, csv_cell
from identity.graph import IdentityGraph
from identity.mapping import load_mapping
from identity.model import JSONValue
from identity.privacy.personal_data import name_words
from identity.readers import read_file
from identity.rules import load_rules
from service.masking import Masker, mask_phone, mask_phone_parsed
from service.segment_export import ndjson_line
from tests.service.conftest import Api

RULES = load_rules(None)
MASKER = Masker(RULES, reveals=False)
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CALLING_CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)

Row = dict[str, JSONValue]


def per_value(masker: Masker, row: Row) -> Row:
    """The export's masking before the row masker: each value through ``field``."""
    return {name: masker.field(name, value) for name, value in row.items()}


def per_value_export(masker: Masker, row: Row) -> Row:
    """:func:`per_value` as an export masks: the columns idgraph computes (traits, consent,
    the profile id) as they are."""
    return {
        name: value if computed_field(name) else masker.field(name, value)
        for name, value in row.items()
    }


def line(row: Row) -> str:
    """A row as the export writes it (service/segment_export.py ``_ndjson``)."""
    return ndjson_line(row).decode("utf-8")


# -- generated names and values -------------------------------------------------------------

PERSONAL_WORDS = sorted(
    {
        *RULES.privacy.pii_attributes,
        *RULES.privacy.pii_kinds,
        *(word for words in RULES.privacy.synonyms.values() for word in words),
    }
)
SPELLINGS: dict[str, Callable[[tuple[str, ...]], str]] = {
    "snake": "_".join,
    "kebab": "-".join,
    "dotted": ".".join,
    "joined": "".join,
    "upper": lambda words: "_".join(words).upper(),
    "camel": lambda words: words[0] + "".join(w.capitalize() for w in words[1:]),
    "pascal": lambda words: "".join(w.capitalize() for w in words),
    "spaced": lambda words: " ".join(w.capitalize() for w in words),
}


def spelled(before: str, word: str, after: str, spelling: str) -> str:
    words = (*name_words(before), *name_words(word), *name_words(after))
    return SPELLINGS[spelling](words) if words else word


personal_names = st.builds(
    spelled,
    st.sampled_from(["", "", "customer", "billing", "contact", "product", "store", "email"]),
    st.sampled_from(PERSONAL_WORDS),
    st.sampled_from(["", "", "2", "verified", "line1", "name", "hash"]),
    st.sampled_from(sorted(SPELLINGS)),
)
field_names = st.one_of(
    personal_names,
    st.sampled_from(sorted(RULES.kinds)),
    st.sampled_from(["profile_id", "id", *(f"traits.{t}" for t in TRAIT_FIELDS)]),
    st.sampled_from([f"consent.{p}" for p in RULES.events.purposes]),
    st.sampled_from(["city", "tier", "order_id", "quantity", "note", "subject", "amount"]),
    st.text(max_size=12),
)
e164 = st.builds(
    lambda code, rest: f"+{code}{rest}",
    st.sampled_from(CALLING_CODES),
    st.text("0123456789", max_size=20),
)
phones = st.one_of(
    e164,
    st.from_regex(r"\+?[0-9 ()\-.x]{0,22}", fullmatch=True),
    st.text("+0123456789 -()", max_size=24),
    st.sampled_from(
        [
            "07400 123456",
            "+44 7400 123456",
            " +447400123456 ",
            "+447400123456\n",
            "(020) 7946 0018",
            "+1-800-FLOWERS",
            "+４４７４００１２３４５６",
            "+٤٤٧٤٠٠١٢٣٤٥٦",
            "+44²7400123456",
            "++447400123456",
            "+0447400123456",
            "+447400123456 ext. 12",
            "tel:+44-7400-123456",
        ]
    ),
)
emails = st.one_of(
    st.emails(),
    st.sampled_from(["Ann.Lee@Example.co.uk", "a@b", "@example.com", "ann@", "x@y.z"]),
)
names = st.sampled_from(["Ann", "Ann Lee", "José Álvarez", "李小龙", "o'Neil", " ", ""])
dates = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat()),
    st.sampled_from(["02/03/1984", "1984", "19840302"]),
)
texts = st.one_of(
    st.text(max_size=30),
    st.builds(
        lambda before, found, after: f"{before} {found} {after}",
        st.text(max_size=8),
        st.one_of(emails, phones),
        st.text(max_size=8),
    ),
)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([999_999, 1_000_000, -1_000_000, 447_400_123_456, 7_400_123_456]),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
    emails,
    phones,
    names,
    dates,
)
json_values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(field_names, inner, max_size=4),
    max_leaves=12,
)
rows = st.dictionaries(field_names, json_values, max_size=10)


@PROPERTY
@given(row=rows, compiled_names=st.lists(field_names, max_size=6), keep=st.integers(0, 10))
def test_a_compiled_row_masker_shows_what_the_per_value_path_shows(
    row: Row, compiled_names: list[str], keep: int
) -> None:
    # Compiled for some of the row's columns and for some it lacks; a column it was not
    # compiled for is masked by its name all the same.
    fields = [*list(row)[:keep], *compiled_names]
    masked = MASKER.row_masker(fields)(row)
    assert line(masked) == line(per_value(MASKER, row))


@PROPERTY
@given(row=rows, computed=st.lists(field_names, max_size=6), keep=st.integers(0, 10))
def test_computed_columns_are_shown_as_they_are_and_the_others_as_per_value(
    row: Row, computed: list[str], keep: int
) -> None:
    computed += list(row)[keep:]
    masked = MASKER.row_masker(list(row), computed)(row)
    expected = {n: v if n in computed else MASKER.field(n, v) for n, v in row.items()}
    assert line(masked) == line(expected)


@PROPERTY
@given(name=field_names, value=json_values)
def test_a_columns_mask_is_the_fields_mask_of_every_value(name: str, value: JSONValue) -> None:
    assert line({name: MASKER.column(name)(value)}) == line({name: MASKER.field(name, value)})


def test_the_row_masker_masks_whole_fields_finds_values_and_shows_the_rest() -> None:
    row: Row = {
        "profile_id": "p_01M9550Y8B0MJAYEWBC1W4PFSV",
        "customer_id": "C1166345",
        "email": "yvonne94@gmail.com",
        "phone": "+447896710894",
        "first_name": "Yvonne",
        "birth_date": "1988-10-19",
        "postcode": "TQ4 4HS",
        "subject": "call me on 07400 123456",
        "traits.event_counts": {"purchase": 3, "contactEmail": "ann@example.com"},
        "consent.email": True,
    }
    assert MASKER.row_masker(list(row))(row) == {
        "profile_id": "p_01M9550Y8B0MJAYEWBC1W4PFSV",
        "customer_id": "C1166345",
        "email": "y***@g***.com",
        "phone": "+44********94",
        "first_name": "Y***",
        "birth_date": "****-**-**",
        "postcode": "***",
        "subject": "call me on *********56",
        "traits.event_counts": {"purchase": 3, "contactEmail": "a***@e***.com"},
        "consent.email": True,
    }


def test_with_pii_read_the_row_masker_gives_the_row_itself() -> None:
    row: Row = {"email": "ann@example.com", "first_name": "Ann"}
    shown = Masker(RULES, reveals=True).row_masker(list(row))(row)
    assert shown is row and shown == {"email": "ann@example.com", "first_name": "Ann"}


def test_more_nested_names_than_the_masker_remembers_are_masked_by_their_names() -> None:
    properties: dict[str, JSONValue] = {
        f"{word}_{i}": "ann@example.com" for i in range(3000) for word in ("contact_email", "note")
    }
    row: Row = {"properties": properties}
    assert line(MASKER.row_masker(["properties"])(row)) == line(per_value(MASKER, row))


# -- the phone mask's E.164 shortcut --------------------------------------------------------


@PROPERTY
@given(value=phones)
def test_mask_phone_equals_the_libphonenumber_reading(value: str) -> None:
    assert mask_phone(value) == mask_phone_parsed(value)


def test_mask_phone_equals_the_libphonenumber_reading_for_every_calling_code() -> None:
    # Every calling code, every national length from none to past the longest, and
    # national prefixes (0, 1, 8, 15, 90, 0549, 000) that libphonenumber strips or rewrites.
    draw = random.Random(18)
    for code in CALLING_CODES:
        for length in range(22):
            for start in ("", "0", "1", "8", "15", "90", "0549", "000"):
                rest = start + "".join(draw.choice("0123456789") for _ in range(length))
                value = f"+{code}{rest[:length]}"
                assert mask_phone(value) == mask_phone_parsed(value), value


def test_an_e164_phone_is_masked_without_libphonenumber(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an E.164 value needs no parse")

    monkeypatch.setattr(phonenumbers, "parse", no_parse)
    assert mask_phone("+447400123456") == "+44********56"
    assert mask_phone("+12025550123") == "+1********23"
    assert mask_phone("+8613812345678") == "+86*********78"


# -- the demo's people, exported over HTTP --------------------------------------------------


@pytest.fixture
def demo(graph: IdentityGraph, make_api: Callable[..., Api], tmp_path: Path) -> Api:
    """The demo generator's people and events, all of them in one segment."""
    files = generate(tmp_path / "demo", people=120, seed=18, events=400)
    for path in sorted(files.mappings_dir.glob("*.toml")):
        graph.ingest.register_source(load_mapping(path, rules=graph.rules))
    for source, path in sorted(files.files.items()):
        graph.ingest.ingest_rows(source, read_file(path, graph.ingest.source(source).format))
    assert files.events_file is not None
    graph.events.ingest_rows(read_file(files.events_file, "jsonl"))
    kinds = sorted(graph.rules.kinds)
    graph.segments.define("everyone", {"where": {"or": [{"identifier": k} for k in kinds]}})
    return make_api()


def exported(api: Api, role: str, **params: str) -> Any:
    response = api.client.get(
        "/v1/segments/everyone/members", params=params, headers=api.auth(role)
    )
    assert response.status_code == 200, response.text
    return response


@pytest.mark.parametrize("all_fields", [True, False], ids=["all-fields", "default-fields"])
def test_a_masked_export_of_the_demo_is_the_full_export_masked_value_by_value(
    demo: Api, graph: IdentityGraph, all_fields: bool
) -> None:
    params = {"fields": ",".join(graph.catalog.fields())} if all_fields else {}
    full = exported(demo, "exporter", **params).text.splitlines()
    masked = exported(demo, "activator", **params)
    reference = Masker.for_principal(graph.rules, None)

    expected = [per_value_export(reference, json.loads(row)) for row in full]
    assert masked.text == "".join(line(row) + "\n" for row in expected)

    # The export is not trivially equal: the demo's people have e-mails and phones, and
    # every one of them leaves masked; every phone's mask is the libphonenumber one.
    revealed = [json.loads(row) for row in full]
    assert len(revealed) >= 100
    e_mails = [row["email"] for row in revealed if row.get("email")]
    phone_numbers = [row["phone"] for row in revealed if row.get("phone")]
    assert len(e_mails) >= 50 and len(phone_numbers) >= 50
    shown = masked.text
    assert not [value for value in e_mails + phone_numbers if value in shown]
    assert [mask_phone(p) for p in phone_numbers] == [mask_phone_parsed(p) for p in phone_numbers]

    fields = list(revealed[0])
    table = exported(demo, "activator", format="csv", **params).text
    assert list(csv.reader(io.StringIO(table))) == [
        fields,
        *([csv_cell(row[name]) for name in fields] for row in expected),
    ]
