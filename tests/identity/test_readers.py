"""Reading rows: CSV, JSON Lines and HTTP bodies, with a bad row never stopping the rest."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from identity.errors import InvalidPayload, RowProblem
from identity.limits import OversizedNumber
from identity.readers import check_file, json_depth, likely_encoding, parse_payload, read_file


def test_csv_rows_are_numbered_from_the_first_data_row(tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_text('\ufeffid,email\n1,a@example.com\n\n2,"b@example.com"\n', "utf-8")
    assert list(read_file(path)) == [
        (1, {"id": "1", "email": "a@example.com"}),
        (2, {"id": "2", "email": "b@example.com"}),
    ]
    assert check_file(path) == 2


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


# -- CSV layout: a file that would load wrong is refused whole, naming the row and the line ---

HEADER = "customer_no,email,mobile,first_name,last_name,birth_date,city,postcode,updated_at\n"
UNCLOSED_QUOTE = HEADER + (
    "C-1,ann@example.com,07400 123456,Ann,Lee,02/03/1984,Leeds,LS1 4AP,2026-01-10T09:00:00\n"
    'C-2,bo@example.com,07912 345678,"Bo,Chen,17/11/1990,York,YO1 7HH,2026-02-01T14:30:00\n'
    "C-3,cy@example.com,07911 123456,Cy,Diaz,01/01/1970,Hull,HU1 1AA,2026-02-02T10:00:00\n"
    "C-4,dee@example.com,07911 223344,Dee,Eve,02/02/1972,Bath,BA1 1AA,2026-02-03T10:00:00\n"
)
"""Four rows; the quote opening row 2's first_name is never closed, so row 2 swallows 3, 4."""


def test_a_quote_never_closed_refuses_the_file_naming_the_row_its_lines_and_the_text(
    tmp_path: Path,
) -> None:
    path = tmp_path / "crm.csv"
    path.write_text(UNCLOSED_QUOTE, "utf-8")
    with pytest.raises(InvalidPayload) as refused:
        check_file(path, allow_multiline=True)  # no flag makes a row of 4 fields out of 9 fit
    message = str(refused.value)
    assert "crm.csv is refused" in message
    assert "row 2, lines 3-5: 4 fields but the header has 9" in message
    assert "the quoted value of 'first_name' opens at line 3" in message
    assert "Bo" not in message  # values only in the problems, for the file's owner
    [problem] = refused.value.problems
    assert (problem.row, problem.field) == (2, "first_name")
    assert problem.value is not None and problem.value.startswith("Bo,Chen,17/11/1990")

    # Streaming alone, the reader stops at the broken row rather than yield it.
    rows = read_file(path)
    assert next(rows)[0] == 1
    with pytest.raises(InvalidPayload, match="row 2, lines 3-5"):
        next(rows)


def test_a_quote_closed_rows_later_that_leaves_the_right_field_count_is_refused_unless_allowed(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shop.csv"
    path.write_text('id,name,note\n1,Ann,"oops\n2,Bo,fine\n3,Cy,done"\n4,Dee,ok\n', "utf-8")
    with pytest.raises(InvalidPayload) as refused:
        check_file(path)
    message = str(refused.value)
    assert "row 1, lines 2-4: the quoted value of 'note' opens at line 2" in message
    assert "line 3 in it looks like a row of its own" in message
    assert "--allow-multiline" in message

    assert check_file(path, allow_multiline=True) == 2
    assert list(read_file(path, allow_multiline=True)) == [
        (1, {"id": "1", "name": "Ann", "note": "oops\n2,Bo,fine\n3,Cy,done"}),
        (2, {"id": "4", "name": "Dee", "note": "ok"}),
    ]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_well_formed_multiline_address_loads_without_any_flag(
    tmp_path: Path, newline: str
) -> None:
    path = tmp_path / "crm.csv"
    text = 'id,address,city\n1,"Flat 2, 12 High St\nHyde Park",Leeds\n2,"1 Low Rd",York\n'
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    assert check_file(path) == 2
    assert list(read_file(path)) == [
        (1, {"id": "1", "address": f"Flat 2, 12 High St{newline}Hyde Park", "city": "Leeds"}),
        (2, {"id": "2", "address": "1 Low Rd", "city": "York"}),
    ]
    assert [n for n, _ in parse_payload(path.read_bytes(), "text/csv")] == [1, 2]


@pytest.mark.parametrize(
    ("row", "fields", "problem"),
    [
        ("3,Cy,Hull,extra", 4, "a value holding the delimiter must be quoted"),
        ("3,Cy", 2, "values are missing"),
    ],
)
def test_a_row_with_more_or_fewer_fields_than_the_header_refuses_the_file(
    tmp_path: Path, row: str, fields: int, problem: str
) -> None:
    path = tmp_path / "shop.csv"
    path.write_text(f"id,name,city\n1,Ann,Leeds\n2,Bo,York\n{row}\n4,Dee,Bath\n", "utf-8")
    for allow_multiline in (False, True):
        with pytest.raises(InvalidPayload) as refused:
            check_file(path, allow_multiline=allow_multiline)
        assert f"row 3, line 4: {fields} fields but the header has 3: {problem}" in str(
            refused.value
        )
        assert refused.value.problems[0].value == row
    with pytest.raises(InvalidPayload, match="CSV body is refused and none of it stored"):
        parse_payload(path.read_bytes(), "text/csv")


def test_every_row_at_fault_is_named_not_only_the_first(tmp_path: Path) -> None:
    path = tmp_path / "shop.csv"
    path.write_text("id,name\n1,Ann\n2\n3,Cy\n4,Dee,x\n5,Eve,y\n", "utf-8")
    with pytest.raises(InvalidPayload, match=r"row 2, line 3.*\(and 2 more rows at fault\)"):
        check_file(path)
    try:
        check_file(path)
    except InvalidPayload as refused:
        assert [p.row for p in refused.problems] == [2, 4, 5]


def test_a_header_naming_a_column_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "shop.csv"
    path.write_text("id,email,email\n1,a@example.com,b@example.com\n", "utf-8")
    with pytest.raises(InvalidPayload, match="the header names 'email' in columns 2 and 3"):
        check_file(path)


def test_a_quote_never_closed_in_a_large_file_is_named_as_the_likely_cause(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    rows = "".join(f"{i},name {i},{'x' * 100}\n" for i in range(3, 2000))
    path.write_text('id,name,note\n1,Ann,ok\n2,"Bo,open\n' + rows, "utf-8")
    with pytest.raises(InvalidPayload) as refused:
        check_file(path)
    message = str(refused.value)
    assert "row 2, from line 3 on, the file cannot be read as CSV: field larger" in message
    assert "a quote that is never closed" in message


def test_an_empty_file_is_refused_and_a_header_alone_holds_no_rows(tmp_path: Path) -> None:
    for text in ("", "\n\n"):
        empty = tmp_path / "empty.csv"
        empty.write_text(text, "utf-8")
        with pytest.raises(InvalidPayload, match=r"empty\.csv is empty: a CSV file needs"):
            check_file(empty)
    header = tmp_path / "header.csv"
    header.write_text("id,email\n", "utf-8")
    assert check_file(header) == 0
    assert list(read_file(header)) == []
    assert list(parse_payload(b"id,email\r\n", "text/csv")) == []
    for body, content_type in [(b"", "text/csv"), (b" \n", "application/json")]:
        with pytest.raises(InvalidPayload, match="the body is empty"):
            parse_payload(body, content_type)


# -- encodings ---------------------------------------------------------------------------------

LATIN_1 = "customer_no,first_name,last_name\nC-9,Zoë,Müller\nC-10,José,Núñez\n".encode("latin-1")


def test_a_latin1_file_is_refused_with_the_line_and_the_likely_encoding_and_loads_when_named(
    tmp_path: Path,
) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(LATIN_1)
    for read in (check_file, lambda p: list(read_file(p))):
        with pytest.raises(InvalidPayload) as refused:
            read(path)
        message = str(refused.value)
        assert "latin1.csv: not UTF-8 text at line 2 (row 1): byte 0xEB" in message
        assert "looks like Windows-1252 (latin-1): pass --encoding cp1252" in message
        assert refused.value.problems[0].value == "C-9,Zo\\xeb,M\\xfcller"
    assert check_file(path, encoding="latin-1") == 2
    assert [row for _, row in read_file(path, encoding="latin-1")] == [
        {"customer_no": "C-9", "first_name": "Zoë", "last_name": "Müller"},
        {"customer_no": "C-10", "first_name": "José", "last_name": "Núñez"},
    ]


def test_a_csv_body_is_read_in_the_charset_of_its_content_type() -> None:
    with pytest.raises(InvalidPayload, match="charset=windows-1252"):
        parse_payload(LATIN_1, "text/csv")
    rows = list(parse_payload(LATIN_1, 'text/csv; charset="windows-1252"'))
    assert rows[0] == (1, {"customer_no": "C-9", "first_name": "Zoë", "last_name": "Müller"})
    assert list(parse_payload(LATIN_1, "text/csv", encoding="latin-1")) == rows
    with pytest.raises(InvalidPayload, match="unknown text encoding 'klingon'"):
        parse_payload(LATIN_1, "text/csv; charset=klingon")
    utf16 = "id,name\n1,Zoë\n".encode("utf-16")
    with pytest.raises(InvalidPayload, match="looks like UTF-16"):
        parse_payload(utf16, "text/csv")
    assert list(parse_payload(utf16, "text/csv; charset=utf-16")) == [
        (1, {"id": "1", "name": "Zoë"})
    ]


def test_a_file_mixing_utf8_and_windows_1252_is_not_taken_for_either(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes("id,name\n1,Zoë\n".encode() + "2,Müller\n".encode("cp1252"))
    with pytest.raises(InvalidPayload, match=r"line 3 .* the file mixes two encodings"):
        check_file(path)


@pytest.mark.parametrize(
    ("text", "encoding", "guess"),
    [
        ("Zoë Müller, 12 € – “quoted”", "cp1252", "cp1252"),
        ("François Lefèvre", "latin-1", "cp1252"),
        ("Zoë", "utf-16", "utf-16"),
        ("Анна Павлова", "cp1251", None),
        ("Δημήτρης", "cp1253", None),
    ],
)
def test_the_encoding_guess_names_western_code_pages_only(
    text: str, encoding: str, guess: str | None
) -> None:
    assert likely_encoding(text.encode(encoding)) == guess


def test_an_unknown_encoding_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("id\n1\n")
    with pytest.raises(InvalidPayload, match="unknown text encoding 'klingon'"):
        check_file(path, encoding="klingon")


# Values that test the quoting: delimiters, quotes, both line breaks, blanks, accents.
CELLS = st.text(alphabet=st.sampled_from(list('ab ,;"\n\r\té')), max_size=12)


@given(st.integers(1, 4).flatmap(lambda w: st.lists(st.lists(CELLS, min_size=w, max_size=w))))
def test_a_well_formed_csv_loads_as_written_or_is_refused_never_altered(
    table: list[list[str]],
) -> None:
    header = [f"c{i}" for i in range(len(table[0]))] if table else ["c0"]
    out = io.StringIO()
    csv.writer(out).writerows([header, *table])
    body = out.getvalue().encode("utf-8")
    expected = [dict(zip(header, row, strict=True)) for row in table]
    allowed = [row for _, row in parse_payload(body, "text/csv", allow_multiline=True)]
    assert allowed == expected
    try:
        checked = [row for _, row in parse_payload(body, "text/csv")]
    except InvalidPayload as refused:
        assert "looks like a row of its own" in str(refused)
    else:
        assert checked == expected
