"""What a record offers the probabilistic matcher: normalised, transliterated values and
the blocking keys that make it a candidate."""

from __future__ import annotations

from identity.matching.index import MatchIndex
from identity.matching.linker import LinkageSettings
from identity.model import Identifier, SourceRecord
from identity.rules import load_rules
from identity.store.sqlite import SQLiteStore


def make_index() -> MatchIndex:
    rules = load_rules()
    assert rules.matching is not None
    settings = LinkageSettings.build(dict(rules.matching.fields), rules.matching.blocking)
    return MatchIndex(SQLiteStore(":memory:"), rules, settings)


def record(**attributes: object) -> SourceRecord:
    email = Identifier("email", "zoya.ivanova@example.com", "Zoya.Ivanova@example.com")
    return SourceRecord("crm", "c1", (email,), dict(attributes))


def test_non_latin_names_are_transliterated_so_they_meet_their_latin_spelling() -> None:
    index = make_index()
    cyrillic = index.fields_of(record(first_name="Зоя", last_name="Иванова"))
    latin = index.fields_of(record(first_name="Zoya", last_name="IVANOVA"))
    assert (cyrillic["first_name"], cyrillic["last_name"]) == ("zoya", "ivanova")
    assert (latin["first_name"], latin["last_name"]) == ("zoya", "ivanova")
    polish = index.fields_of(record(first_name="Łucja", last_name="Wiśniewska"))
    assert (polish["first_name"], polish["last_name"]) == ("lucja", "wisniewska")
    comparison = next(c for c in index.settings.comparisons if c.field == "last_name")
    assert comparison.levels[comparison.compare(["ivanova"], ["ivanova"])[0]].name == "exact"


def test_identifier_kinds_give_their_normalised_value_and_blanks_are_missing() -> None:
    index = make_index()
    fields = index.fields_of(record(first_name="  ", birth_date="1980-05-03", city=None))
    assert fields["email"] == "zoya.ivanova@example.com"
    assert fields["first_name"] is None and fields["city"] is None and fields["phone"] is None
    assert fields["birth_date"] == "1980-05-03"


def test_a_record_has_a_blocking_key_only_for_rules_it_has_every_key_of() -> None:
    index = make_index()
    rules = index.settings.blocking
    fields = index.fields_of(record(first_name="Zoya", last_name="Ivanova", postcode="LS1 4AP"))
    keys = index.keys_of(fields)
    numbers = {int(key.split(":", 1)[0]) for key in keys}
    # Birth date and phone are missing: their rules give no key, the others one each.
    for number, rule in enumerate(rules):
        bases = {k.partition(":")[0] for k in rule}
        assert (number in numbers) == all(fields[b] is not None for b in bases), rule
    email_rule = rules.index(("email",))
    assert f"{email_rule}:zoya.ivanova@example.com" in keys


def test_a_blocklisted_identifier_is_no_value_to_compare_or_block_on() -> None:
    index = make_index()
    junk = Identifier("email", "test@test.com", "TEST@test.com")
    fields = index.fields_of(SourceRecord("crm", "c2", (junk,), {"first_name": "Ann"}))
    assert fields["email"] is None
    assert not any("test@test.com" in key for key in index.keys_of(fields))
