"""The mapping suggester: what it infers from crafted rows, and where it says it is unsure."""

from __future__ import annotations

import tomllib

from identity.mapping import SourceMapping
from identity.mapping.suggest import suggest_mapping
from identity.rules import load_rules

RULES = load_rules()


def test_ambiguous_dates_are_mapped_with_a_comment_asking_for_day_first() -> None:
    rows = [{"ref": f"R{n}", "joined": f"0{n + 1}/0{n + 2}/2020"} for n in range(3)]
    draft = suggest_mapping(rows, "Legacy CRM!", RULES.kinds)
    text = draft.to_toml()
    assert "CHECK day_first" in text
    doc = tomllib.loads(text)
    assert doc["source"] == "legacy_crm"
    assert doc["key"] == "ref"
    assert doc["attributes"]["joined"]["type"] == "date"
    SourceMapping.from_document(doc, rules=RULES)  # the draft loads as it is


def test_without_a_unique_column_the_key_is_left_for_the_user() -> None:
    rows = [{"email": "a@example.com", "city": "Leeds"}] * 2
    text = suggest_mapping(rows, "dupes").to_toml()
    assert 'key = "CHANGE_ME"' in text
    assert tomllib.loads(text)["identifiers"] == {"email": "email"}


def test_an_id_column_named_like_a_declared_kind_becomes_that_identifier() -> None:
    rows = [{"id": str(n), "loyalty_id": f"L{n}", "note": ""} for n in range(3)]
    doc = tomllib.loads(suggest_mapping(rows, "shop", RULES.kinds).to_toml())
    assert doc["key"] == "id"
    assert doc["identifiers"] == {"loyalty_id": "loyalty_id"}
