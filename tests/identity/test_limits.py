"""The input limits a row is held to: the first value out of them, named by its field."""

from __future__ import annotations

import math
from typing import Any

import pytest

from identity.errors import RowProblem
from identity.limits import FieldLimits, InputLimits, OversizedNumber

LIMITS = InputLimits(
    max_depth=3,
    max_name_length=10,
    default=FieldLimits(max_string_length=20, max_number=1000),
    fields={"notes": FieldLimits(max_string_length=100, max_number=1000)},
)


@pytest.mark.parametrize(
    ("row", "field", "words"),
    [
        ({"id": "a\x00b"}, "id", "NUL character (U+0000) at character 2"),
        ({"id": "ok", "city": "Le\ud800eds"}, "city", "lone surrogate (U+D800)"),
        ({"id": "ok", "city": "\x1b[1m"}, "city", "control character (U+001B)"),
        ({"id": "ok", "city": "\x85"}, "city", "control character (U+0085)"),
        ({"id": "ok", "ci\x00ty": "x"}, "ci\\u0000ty", "the field name holds a NUL"),
        ({"id": "ok", "c" * 11: "x"}, "c" * 11 + "…", "a field name of 11 characters"),
        ({"id": "ok", "n": math.nan}, "n", "is NaN"),
        ({"id": "ok", "n": -math.inf}, "n", "is Infinity"),
        ({"id": "ok", "n": 1001}, "n", "is a number of 4 digits; the limit is ±1,000"),
        ({"id": "ok", "n": 1e300}, "n", "magnitude 1e300; the limit is ±1,000"),
        ({"id": "ok", "n": OversizedNumber(5000)}, "n", "5,000 digits"),
        ({"id": "ok", "n": 10**5000}, "n", "5,001 digits"),
        ({"id": "ok", "s": "x" * 21}, "s", "is 21 characters long; the limit is 20"),
        ({"id": "ok", "a": {"b": [1, "\x00"]}}, "a.b[1]", "NUL character"),
        ({"id": "ok", "a": {"b\ud800": 1}}, "a.b\\ud800", "lone surrogate"),
        ({"id": "ok", "a": [[[1]]]}, "a[0][0]", "nests deeper than the limit of 3 levels"),
        ({"id": "tab\there"}, "id", "control character (U+0009)"),
    ],
)
def test_the_first_value_out_of_the_limits_is_named_by_its_field(
    row: dict[str, Any], field: str, words: str
) -> None:
    problem = LIMITS.row_problem(row, 7, key_field="id", strict=("id",))
    assert problem is not None
    assert (problem.row, problem.field) == (7, field)
    assert words in problem.problem
    assert problem.key == (None if field == "id" else "ok")


def test_a_value_within_the_limits_passes_and_free_text_may_hold_tabs_and_newlines() -> None:
    row = {
        "id": "a1",
        "notes": "line one\r\n\tline two " + "x" * 60,
        "n": -1000,
        "f": 999.5,
        "a": [[1, None, True]],
        "é": "Zoë",
    }
    assert LIMITS.row_problem(row, 1, key_field="id", strict=("id",)) is None


def test_the_value_is_kept_for_the_cli_but_never_in_the_report() -> None:
    problem = LIMITS.row_problem({"id": "ok", "city": "RS\x005"}, 1, key_field="id")
    assert problem is not None and problem.value == "RS\x005"
    assert "RS" not in str(problem.as_dict())


# -- one form of text: NFC ---------------------------------------------------------------------

DECOMPOSED, COMPOSED = "Zoe\u0308 Ame\u0301lie", "Zo\u00eb Am\u00e9lie"


def test_admit_makes_names_and_values_nfc_at_any_depth() -> None:
    row = {
        "id": "ide\u0301",
        "cafe\u0301": DECOMPOSED,
        "a": {"stra\u00dfe\u0301": [DECOMPOSED, 1, None, {"ne\u0301": "e\u0301"}]},
    }
    admitted = InputLimits().admit(row, 3, key_field="id", strict=("id",))
    assert admitted == {
        "id": "id\u00e9",
        "caf\u00e9": COMPOSED,
        "a": {"stra\u00df\u00e9": [COMPOSED, 1, None, {"n\u00e9": "\u00e9"}]},
    }
    assert row["cafe\u0301"] == DECOMPOSED  # the row read is not changed in place


def test_admit_keeps_composed_text_as_it_is_and_still_refuses_what_row_problem_refuses() -> None:
    row = {"id": "a1", "name": COMPOSED, "n": 5, "ok": True}
    assert LIMITS.admit(row, 1, key_field="id") == row
    refused = LIMITS.admit({"id": "a1", "name": "Zoe\u0308\x00"}, 4, key_field="id")
    assert isinstance(refused, RowProblem)
    assert (refused.row, refused.field, refused.key) == (4, "name", "a1")
    assert "NUL character (U+0000)" in refused.problem


def test_two_names_that_are_one_once_composed_refuse_the_row_naming_the_field() -> None:
    row = {"id": "a1", "a": {"caf\u00e9": "x", "cafe\u0301": "y"}}
    refused = LIMITS.admit(row, 2, key_field="id")
    assert isinstance(refused, RowProblem)
    assert (refused.row, refused.field, refused.key) == (2, "a.caf\u00e9", "a1")
    assert "Unicode NFC" in refused.problem and "x" not in refused.problem


def test_a_string_nfc_makes_longer_than_its_limit_is_refused() -> None:
    # U+0958 (DEVANAGARI LETTER QA) is one character that NFC writes as two.
    row = {"id": "a1", "s": "\u0958" * 15}
    refused = LIMITS.admit(row, 1, key_field="id")
    assert isinstance(refused, RowProblem)
    assert refused.field == "s" and "is 30 characters long; the limit is 20" in refused.problem
