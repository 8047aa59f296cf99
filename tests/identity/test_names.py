"""Given names and their other forms: the packaged table of diminutives beyond English, the
pairs it excludes from the nicknames package, initials and the words of a full name."""

from __future__ import annotations

import pytest

from identity.errors import ConfigError
from identity.matching.names import (
    initial_of,
    is_nickname,
    name_forms,
    name_table,
    name_words,
    parse_name_table,
    spelling_of,
)


def test_the_packaged_table_loads_with_a_source_for_every_language() -> None:
    table = name_table()
    assert {"malgorzata", "gosia", "malgosia", "goska", "malgoska"} <= table.forms["gosia"]
    assert "dolores" in table.forms["lola"]
    # Cyrillic forms are read as the matcher transliterates them.
    assert {"dmitriy", "dmitry", "dima", "mitya"} <= table.forms["dima"]
    assert "baerbel" in table.forms["barbara"] and "barbel" in table.forms["barbara"]


def test_a_form_of_two_names_belongs_to_both_and_the_names_stay_apart() -> None:
    assert is_nickname("sasha", "aleksandr") and is_nickname("sasha", "aleksandra")
    assert not is_nickname("aleksandr", "aleksandra")


def test_excluded_pairs_are_never_one_name_and_the_rest_of_the_package_stays() -> None:
    assert "ian" not in name_forms("john") and "jack" in name_forms("john")
    assert not is_nickname("john", "jane")  # through jean, a spelling the package has
    assert not is_nickname("andrew", "andrea")
    assert is_nickname("bob", "robert") and is_nickname("peggy", "margaret")


def test_a_spelling_keeps_sound_and_vowels() -> None:
    assert spelling_of("katherine", "catherine")
    assert spelling_of("sara", "sarah") and spelling_of("ann", "anne")
    assert not spelling_of("jean", "joan")  # another vowel: another name
    assert not spelling_of("jon", "joan")
    assert not spelling_of("joshua", "josh")  # a short form, not a spelling


def test_initials_and_the_words_of_a_full_name() -> None:
    assert initial_of("j") == initial_of("j.") == "j"
    assert initial_of("jo") is None and initial_of(".") is None
    assert name_words("mr j. smith-jones jr") == ("j", "smith", "jones")
    assert name_words("smith, john") == ("john", "smith")  # surname first, by the comma
    assert name_words("smith, mr john") == ("john", "smith")
    assert name_words("john smith, jr.") == ("john", "smith")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('[pl]\nnames = { "Anna" = ["Ania"] }\n', "pl.source"),
        ('[pl]\nsource = "x"\nnames = { "Anna" = "Ania" }\n', "pl.names.Anna"),
        ('[pl]\nsource = "x"\n', "pl.names"),
        ('[pl]\nsource = "x"\nnames = { "Anna" = ["Ania"] }\nlanguage = "pl"\n', "pl.language"),
        ('[exclude]\npairs = [["john", "ian", "juan"]]\n', "exclude.pairs[1]"),
    ],
)
def test_a_bad_table_is_refused_naming_the_field(text: str, field: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_name_table(text, "diminutives.toml")
    assert refused.value.field == field and refused.value.path == "diminutives.toml"
