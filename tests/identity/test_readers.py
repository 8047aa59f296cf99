"""Reading rows: CSV, JSON Lines and HTTP bodies, with a bad row never stopping the rest."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from identity.errors import InvalidPayload, RowProblem
from identity.readers import parse_payload, read_file


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
