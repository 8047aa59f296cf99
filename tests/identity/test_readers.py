"""Reading rows: CSV, JSON Lines and HTTP bodies, with a bad row never stopping the rest."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from identity.errors import InvalidPayload, RowProblem
from identity.limits import OversizedNumber
from identity.readers import json_depth, parse_payload, read_file


def test_csv_rows_are_numbered_from_the_first_data_row(tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_text('\ufeffid,email\n1,a@example.com\n2,"b@example.com"\n3,x,extra\n', "utf-8")
    rows = list(read_file(path))
    assert rows[:2] == [
        (1, {"id": "1", "email": "a@example.com"}),
        (2, {"id": "2", "email": "b@example.com"}),
    ]
    number, problem = rows[2]
    assert number == 3 and isinstance(problem, RowProblem)
    assert "3 fields" in problem.problem


def test_jsonl_bad_lines_become_row_problems(tmp_path: Path) -> None:
    path = tmp_path / "shop.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write('{"id": 1}\n\n{"id": \n[1, 2]\n{"id": 4}\n')
    rows = list(read_file(path))
    assert [n for n, _ in rows] == [1, 3, 4, 5]
    assert isinstance(rows[1][1], RowProblem) and "not valid JSON" in rows[1][1].problem
    assert isinstance(rows[2][1], RowProblem) and "JSON object" in rows[2][1].problem
    assert rows[3] == (5, {"id": 4})


def test_an_unknown_extension_asks_for_a_format(tmp_path: Path) -> None:
    path = tmp_path / "data.xlsx"
    path.write_text("x")
    with pytest.raises(InvalidPayload, match="--format"):
        list(read_file(path))


def test_a_file_that_is_not_utf8_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("id,name\n1,Zoë\n".encode("latin-1"))
    with pytest.raises(InvalidPayload, match=r"latin1\.csv"):
        list(read_file(path))


def test_payloads_as_array_object_ndjson_and_csv() -> None:
    assert next(parse_payload(b'[{"id": 1}, 2]', "application/json")) == (1, {"id": 1})
    assert isinstance(list(parse_payload(b'[{"id": 1}, 2]', None))[1][1], RowProblem)
    assert list(parse_payload(b'{"id": 1}', "application/json; charset=utf-8")) == [(1, {"id": 1})]
    ndjson = list(parse_payload(b'{"id": 1}\nnope\n{"id": 3}\n', "application/x-ndjson"))
    assert [n for n, _ in ndjson] == [1, 2, 3] and isinstance(ndjson[1][1], RowProblem)
    assert list(parse_payload(b"id,email\n1,a@b.co\n", "text/csv")) == [
        (1, {"id": "1", "email": "a@b.co"})
    ]


@pytest.mark.parametrize(
    ("body", "content_type", "problem"),
    [
        (b'[{"id": 1}', "application/json", "not valid JSON"),
        (b"42", "application/json", "a number"),
        (b"\xff\xfe", "application/json", "not UTF-8"),
        (b"id=1", "application/x-www-form-urlencoded", "unsupported content type"),
    ],
)
def test_unusable_bodies_are_refused_whole(body: bytes, content_type: str, problem: str) -> None:
    with pytest.raises(InvalidPayload, match=problem):
        list(parse_payload(body, content_type))


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


# Strings full of what could fool a scan: brackets, quotes and backslashes.
TRICKY = st.text(alphabet='[]{}"\\ab\u00e9', max_size=8)
JSON_VALUES = st.recursive(
    st.none() | st.integers() | TRICKY,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TRICKY, inner, max_size=3),
    max_leaves=15,
)


@given(JSON_VALUES, st.booleans())
def test_the_depth_scan_agrees_with_the_parsed_value(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert json_depth(text.encode("utf-8")) == depth(value)


def test_json_nesting_deeper_than_the_limit_is_refused_unparsed() -> None:
    with pytest.raises(InvalidPayload, match="nests 100,000 levels deep; the limit is 17"):
        list(parse_payload(b"[" * 100_000, "application/json"))
    with pytest.raises(InvalidPayload, match="nests 4 levels deep; the limit is 3"):
        list(parse_payload(b'{"a": {"b": {"c": {}}}}', "application/json", max_depth=3))
    rows = list(parse_payload(b'[{"a": {"b": {"c": 1}}}]', "application/json", max_depth=3))
    assert rows == [(1, {"a": {"b": {"c": 1}}})]


def test_a_jsonl_line_nesting_too_deep_is_a_row_problem(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text('{"id": 1}\n' + "[" * 5000 + "]" * 5000 + '\n{"id": 3}\n')
    rows = list(read_file(path, max_depth=16))
    assert rows[0] == (1, {"id": 1}) and rows[2] == (3, {"id": 3})
    number, problem = rows[1]
    assert number == 2 and isinstance(problem, RowProblem)
    assert "5,000 levels deep; the limit is 16" in problem.problem


def test_an_integer_too_long_for_any_limit_is_left_unconverted() -> None:
    body = b'{"id": -' + b"9" * 5000 + b', "n": 9223372036854775807, "f": NaN}'
    [(_, row)] = list(parse_payload(body, "application/json"))
    assert isinstance(row, dict)
    assert row["id"] == OversizedNumber(5000)
    assert row["n"] == 2**63 - 1
    assert row["f"] != row["f"]  # NaN is read, so the row can be refused naming the field
