"""Reading rows from CSV and JSON Lines files and from HTTP bodies, streaming.

Rows come out numbered (1-based: the data row of a CSV, the line of a JSON Lines file, the
element of a JSON array) as plain dicts, or as the :class:`RowProblem` that stopped a row
being read, so one malformed row never stops the others.

A CSV is different: a quote that is never closed makes one value of the rows after it, and
a row with a field too many or too few puts its values under the wrong names, so either
would store wrong records without a word. Each row must have as many fields as the header,
and a quoted value that spans lines (an address written on two lines, RFC 4180) must hold
no line that looks like a row of its own; a file breaking either is refused whole, naming
the row and the physical line (``allow_multiline`` accepts such values). :func:`check_file`
reads a file once to find out before anything is stored; :func:`parse_payload` checks a
CSV body before it returns a row.

JSON is measured before it is parsed: the parser recurses once per level, so a body of
100,000 ``[`` would exhaust the stack; deeper than ``max_depth`` is refused unread.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

import numpy as np

from identity.errors import InvalidPayload, RowProblem
from identity.ingest import Row
from identity.limits import DEFAULT_MAX_DEPTH, EXCERPT, OversizedNumber
from identity.mapping import DEFAULT_ENCODING, encoding_problem

NDJSON_TYPES = frozenset(
    {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}
)
CSV_TYPES = frozenset({"text/csv", "application/csv"})
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
_STRUCTURE = b'"[]{}'
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in _STRUCTURE)
_LONGEST_NUMBER = 20
"""Characters of an integer that may be within the number limit (2**63 - 1 has 19 digits)."""
_CHUNK = 1 << 20


def json_depth(data: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest (0 for a scalar), without
    parsing it, in time linear in its length and memory bounded by a chunk.

    Escaped backslashes and quotes are dropped first (outside strings JSON has none), so
    the quotes left delimit strings; a bracket counts when an even number of quotes
    precede it.
    """
    kept = data.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_STRUCTURE)
    deepest = level = quotes = 0
    for start in range(0, len(kept), _CHUNK):
        chunk = np.frombuffer(kept[start : start + _CHUNK], dtype=np.uint8)
        quote = chunk == ord('"')
        outside = (np.cumsum(quote, dtype=np.int64) + quotes) % 2 == 0
        opens = outside & ((chunk == ord("[")) | (chunk == ord("{")))
        closes = outside & ((chunk == ord("]")) | (chunk == ord("}")))
        levels = np.cumsum(opens.astype(np.int64) - closes, dtype=np.int64) + level
        deepest = max(deepest, int(levels.max()))
        level = int(levels[-1])
        quotes += int(quote.sum())
    return deepest


def depth_over(data: bytes | str, max_depth: int) -> int | None:
    """The depth of ``data`` when it is over ``max_depth``, else None (cheaply, for the
    common text with fewer brackets than the limit)."""
    if isinstance(data, str):
        if data.count("[") + data.count("{") <= max_depth:
            return None
        data = data.encode("utf-8", "surrogatepass")
    elif data.count(b"[") + data.count(b"{") <= max_depth:
        return None
    depth = json_depth(data)
    return depth if depth > max_depth else None


def _integer(digits: str) -> int | OversizedNumber:
    if len(digits) > _LONGEST_NUMBER:
        return OversizedNumber(len(digits.lstrip("-")))
    return int(digits)


def _loads(text: str) -> object:
    """JSON as Python; an integer too long for any limit stays unconverted (it is refused
    as a row problem, naming its field), and NaN and Infinity are read so they can be."""
    return json.loads(text, parse_int=_integer)


def file_format(path: Path) -> str:
    """``csv`` or ``jsonl`` from a file name (``.gz`` looked through)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    fmt = _EXTENSIONS.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise InvalidPayload(
            f"{path.name}: cannot tell the format from the extension; "
            "use .csv, .jsonl or .ndjson (optionally .gz) or pass --format"
        )
    return fmt


def read_file(
    path: Path,
    fmt: str | None = None,
    csv_delimiter: str = ",",
    max_depth: int = DEFAULT_MAX_DEPTH,
    encoding: str = DEFAULT_ENCODING,
    allow_multiline: bool = False,
) -> Iterator[Row]:
    """Stream the rows of a CSV or JSON Lines file (gzip-compressed or not); a JSON line
    nesting deeper than ``max_depth`` is a row problem.

    Raises InvalidPayload if the file cannot be opened, is not text in ``encoding``, or is
    a CSV whose layout breaks (:func:`check_file`) where the rows read so far stop. Run
    :func:`check_file` first to refuse such a file before any of its rows is used.
    """
    fmt = _format(path, fmt)
    with _open_text(path, encoding) as text:
        if fmt == "csv":
            rows = _csv_rows(text, csv_delimiter, allow_multiline, path.name, _FILE_REMEDY)
        else:
            rows = _jsonl_rows(text, max_depth)
        yield from _decoded(rows, path, encoding, csv_delimiter if fmt == "csv" else None)


def check_file(
    path: Path,
    fmt: str | None = None,
    csv_delimiter: str = ",",
    encoding: str = DEFAULT_ENCODING,
    allow_multiline: bool = False,
) -> int:
    """How many rows :func:`read_file` will give, after reading the file once to make sure
    it can be read whole: every byte decodes, and a CSV has a header and the layout
    described in the module's docstring. Streams, so a file of any size takes constant
    memory.

    Raises InvalidPayload naming every row at fault (``problems``) otherwise, so a caller
    can refuse the file before storing anything from it.
    """
    fmt = _format(path, fmt)
    try:
        with _open_text(path, encoding) as text:
            if fmt != "csv":
                return sum(1 for line in text if line.strip())
            scan = _scan_csv(text, csv_delimiter, allow_multiline, _FILE_REMEDY)
    except UnicodeDecodeError:
        with _open_binary(path) as raw:
            delimiter = csv_delimiter if fmt == "csv" else None
            error = _undecodable(raw, encoding, path.name, _file_encoding_remedy, delimiter)
        raise error from None
    if scan.header is None:
        raise InvalidPayload(
            f"{path.name} is empty: a CSV file needs at least a header naming its columns",
            [RowProblem(0, None, "the file is empty: no header, no rows")],
        )
    if scan.problems:
        raise _refused(f"{path.name} is refused: its CSV layout is broken at", scan)
    return scan.rows


def _format(path: Path, fmt: str | None) -> str:
    fmt = fmt or file_format(path)
    if fmt not in ("csv", "jsonl"):
        raise InvalidPayload(f"unknown format {fmt!r}: use csv or jsonl")
    return fmt


@contextmanager
def _open_text(path: Path, encoding: str) -> Iterator[IO[str]]:
    codec = _codec(encoding, f"{path.name}: ")
    try:
        raw = _open_binary(path)
    except OSError as error:
        raise InvalidPayload(f"{path}: {error.strerror}") from None
    with raw, io.TextIOWrapper(raw, encoding=codec, newline="") as text:
        yield text


def _open_binary(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def _codec(encoding: str, where: str = "") -> str:
    """The codec to read ``encoding`` with: UTF-8 drops a byte order mark (Excel writes
    one), as ``utf-16`` does by itself."""
    problem = encoding_problem(encoding)
    if problem is not None:
        raise InvalidPayload(where + problem)
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


def parse_payload(
    body: bytes,
    content_type: str | None,
    max_depth: int = DEFAULT_MAX_DEPTH,
    *,
    csv_delimiter: str = ",",
    encoding: str = DEFAULT_ENCODING,
    allow_multiline: bool = False,
) -> Iterator[Row]:
    """Rows of an HTTP body: a JSON array or object, NDJSON, or CSV by content type.

    ``max_depth`` is how deep one row may nest (the array around the rows not counted). A
    CSV is decoded by the ``charset`` of the content type, else by ``encoding``; JSON is
    always UTF-8 (RFC 8259). Raises InvalidPayload when the body as a whole is unusable
    (empty, not text in its encoding, a CSV whose layout breaks, a JSON syntax error
    outside NDJSON, JSON nesting deeper than ``max_depth``, a top-level value that is
    neither an array nor an object); a CSV is checked whole before any row is returned.
    """
    media, charset = _media(content_type)
    is_json = media == "application/json" or media.endswith("+json")
    if media not in CSV_TYPES and media not in NDJSON_TYPES and not is_json:
        raise InvalidPayload(
            f"unsupported content type {media!r}: send application/json (an array of "
            "objects or one object), application/x-ndjson or text/csv"
        )
    if not body.strip():
        raise InvalidPayload(
            "the body is empty: send the rows (a JSON array, NDJSON, or a CSV with its header)"
        )
    if media in CSV_TYPES:
        text = _decode(body, charset or encoding, _body_encoding_remedy, csv_delimiter)
        scan = _scan_csv(
            io.StringIO(text, newline=""), csv_delimiter, allow_multiline, _BODY_REMEDY
        )
        if scan.header is None:
            raise InvalidPayload("the body holds no CSV header: send the header, then the rows")
        if scan.problems:
            verdict = "the CSV body is refused and none of it stored: its layout is broken at"
            raise _refused(verdict, scan)
        return _csv_rows(
            io.StringIO(text, newline=""), csv_delimiter, allow_multiline, "the body", _BODY_REMEDY
        )
    text = _decode(body, DEFAULT_ENCODING, _json_encoding_remedy, None)
    if media in NDJSON_TYPES:
        return _jsonl_rows(io.StringIO(text), max_depth)
    # The array around the rows is one level more than a row may nest.
    allowed = max_depth + 1 if text.lstrip().startswith("[") else max_depth
    depth = depth_over(body, allowed)
    if depth is not None:
        raise InvalidPayload(
            f"the JSON nests {depth:,} levels deep; the limit is {allowed} "
            f"({max_depth} for a row, one more for the array around the rows)"
            if allowed > max_depth
            else f"the JSON nests {depth:,} levels deep; the limit is {max_depth}"
        )
    try:
        parsed = _loads(text)
    except json.JSONDecodeError as error:
        raise InvalidPayload(
            f"not valid JSON at line {error.lineno} column {error.colno}: {error.msg} "
            "(send one JSON array, or NDJSON with Content-Type application/x-ndjson)"
        ) from None
    if isinstance(parsed, dict):
        return iter([(1, parsed)])
    if isinstance(parsed, list):
        return _objects(enumerate(parsed, start=1))
    raise InvalidPayload(f"expected a JSON array of objects or one object, got {_type(parsed)}")


def _media(content_type: str | None) -> tuple[str, str | None]:
    """The media type of a Content-Type header and its ``charset`` parameter, if any."""
    media, _, parameters = (content_type or "application/json").partition(";")
    charset = None
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"') or None
    return media.strip().lower(), charset


def _decode(
    body: bytes, encoding: str, remedy: Callable[[str | None], str], delimiter: str | None
) -> str:
    codec = _codec(encoding, "the Content-Type's charset: ")
    try:
        return body.decode(codec)
    except UnicodeDecodeError:
        raise _undecodable(io.BytesIO(body), encoding, "the body", remedy, delimiter) from None


def _objects(items: Iterable[tuple[int, object]]) -> Iterator[Row]:
    for number, item in items:
        if isinstance(item, dict):
            yield number, item
        else:
            yield (
                number,
                RowProblem(number, None, f"a row must be a JSON object, got {_type(item)}"),
            )


def _jsonl_rows(lines: Iterable[str], max_depth: int) -> Iterator[Row]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        depth = depth_over(line, max_depth)
        if depth is not None:
            problem = f"the line nests {depth:,} levels deep; the limit is {max_depth}"
            yield number, RowProblem(number, None, problem)
            continue
        try:
            item = _loads(line)
        except json.JSONDecodeError as error:
            yield number, RowProblem(number, None, f"not valid JSON: {error.msg}")
            continue
        yield from _objects([(number, item)])


# -- CSV layout -------------------------------------------------------------------------------

_FILE_REMEDY = "pass --allow-multiline (or set allow_multiline = true in the mapping)"
_BODY_REMEDY = "send allow_multiline=true (or set allow_multiline = true in the mapping)"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_KEPT_PROBLEMS = 1000
"""Rows at fault a refusal names one by one; the rest are counted."""


@dataclass(slots=True)
class _CsvScan:
    header: list[str] | None = None
    rows: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    faults: int = 0
    """Rows (and the header) at fault, named in ``problems`` or not."""


def _csv_records(
    text: Iterable[str],
    delimiter: str,
    allow_multiline: bool,
    remedy: str,
    fault: Callable[[RowProblem], None],
) -> Iterator[tuple[int, list[str]]]:
    """The header as row 0, then each data row that keeps the layout, numbered from 1
    (blank lines skipped); each row or header at fault goes to ``fault`` instead, which
    may raise to stop the reading. A header at fault ends the records.

    The common row (one line, as many fields as the header) costs two comparisons; a row
    spanning lines, one count of delimiters more unless its values hold a row's worth.
    """
    reader = csv.reader(text, delimiter=delimiter)
    line = number = 0
    try:
        for values in reader:
            first, line = line + 1, reader.line_num
            if _blank(values):
                continue
            header = [name.strip() for name in values]
            problem = _header_problem(header, delimiter, first, line)
            if problem is not None:
                fault(problem)
                return
            yield 0, header
            break
        else:
            return
        width = len(header)
        in_a_row = width - 1
        """Delimiters a row holds: a line of a value holding as many looks like a row."""
        for values in reader:
            first, line = line + 1, reader.line_num
            if len(values) == width and (
                line == first or allow_multiline or "".join(values).count(delimiter) < in_a_row
            ):
                number += 1
                yield number, values
                continue
            if _blank(values) and line == first:
                continue
            number += 1
            found = _layout_problem(values, header, number, first, line, delimiter, remedy)
            if found is None:
                yield number, values
            else:
                fault(found)
    except csv.Error as error:
        # Past the field size limit (128 KiB), or a NUL byte in older Pythons: the reader
        # cannot go on, and the likeliest cause is a quote never closed.
        unreadable = f"from line {line + 1} on, the file cannot be read as CSV: {error}"
        if "field limit" in str(error):
            unreadable += "; a quote that is never closed makes one value of the rest of it"
        fault(RowProblem(number + 1, None, unreadable))


def _blank(values: list[str]) -> bool:
    """An empty line, or one of spaces in a file of several columns (what editors leave)."""
    return not values or (len(values) == 1 and not values[0].strip())


def _header_problem(header: list[str], delimiter: str, first: int, last: int) -> RowProblem | None:
    if last != first:
        return RowProblem(
            0,
            None,
            f"lines {first}-{last}: the header spans lines, so a quote in it is never closed",
            value=_excerpt(delimiter.join(header)),
        )
    seen: dict[str, int] = {}
    for column, name in enumerate(header, start=1):
        if name and name in seen:
            return RowProblem(
                0,
                name,
                f"line {first}: the header names '{name}' in columns {seen[name]} and "
                f"{column}, and the values of one would be lost",
            )
        seen[name] = column
    return None


def _layout_problem(
    values: list[str],
    header: list[str],
    number: int,
    first: int,
    last: int,
    delimiter: str,
    remedy: str,
) -> RowProblem | None:
    """What is wrong with a row that has the wrong number of fields, or a value spanning
    lines that holds what looks like a row of its own; None when its values are fine.

    A quote that is never closed makes one value of everything up to the next quote,
    rows included, and every whole row it takes in brings its delimiters along: a line in
    a value with as many delimiters as a row has is the sign. An address written over two
    lines has one or two at most, so the common case costs one count per value.
    """
    width = len(header)
    lines = f"line {first}" if first == last else f"lines {first}-{last}"
    if len(values) == width:
        for index, value in enumerate(values):
            if value.count(delimiter) < width - 1 or not _LINE_BREAK.search(value):
                continue
            for offset, part in enumerate(_LINE_BREAK.split(value)):
                if part.count(delimiter) >= width - 1:
                    name, opened, opens = _spanning(values, index, header, first, last)
                    return RowProblem(
                        number,
                        name,
                        f"{lines}: {opened}, and line {opens + offset} in it looks like a row "
                        "of its own: a quote that is never closed swallows the rows after "
                        f"it; if the line breaks belong to the value, {remedy}",
                        value=_excerpt(value),
                    )
        return None
    problem = f"{lines}: {len(values)} fields but the header has {width}"
    spanning = next((i for i, v in enumerate(values) if _LINE_BREAK.search(v)), None)
    if spanning is not None:
        name, opened, _ = _spanning(values, spanning, header, first, last)
        problem += f": {opened}; is its closing quote missing?"
        return RowProblem(number, name, problem, value=_excerpt(values[spanning]))
    problem += (
        ": a value holding the delimiter must be quoted"
        if len(values) > width
        else ": values are missing"
    )
    return RowProblem(number, None, problem, value=_excerpt(delimiter.join(values)))


def _spanning(
    values: list[str], index: int, header: list[str], first: int, last: int
) -> tuple[str, str, int]:
    """The column of a value spanning lines, what to say of it, and the line it opens on
    (line breaks are only ever inside quoted values, so those before it count)."""
    name = header[index] if index < len(header) else f"column {index + 1}"
    opens = first + sum(len(_LINE_BREAK.findall(v)) for v in values[:index])
    # A value may end in the file's last line break, past which there is no line.
    closes = min(opens + len(_LINE_BREAK.findall(values[index])), last)
    return (
        name,
        f"the quoted value of '{name}' opens at line {opens} and runs to line {closes}",
        opens,
    )


def _excerpt(text: str) -> str:
    return text[:EXCERPT] + ("…" if len(text) > EXCERPT else "")


def _scan_csv(text: Iterable[str], delimiter: str, allow_multiline: bool, remedy: str) -> _CsvScan:
    scan = _CsvScan()

    def fault(problem: RowProblem) -> None:
        scan.faults += 1
        if len(scan.problems) < _KEPT_PROBLEMS:
            scan.problems.append(problem)
        if problem.row == 0:
            scan.header = []

    for number, values in _csv_records(text, delimiter, allow_multiline, remedy, fault):
        if number:
            scan.rows += 1
        else:
            scan.header = values
    return scan


def _refused(verdict: str, scan: _CsvScan) -> InvalidPayload:
    """``{verdict} row 2, lines 3-5: 4 fields but the header has 9 ...``, naming every
    problem kept (with its excerpt, for the CLI); the message holds no value."""
    first = scan.problems[0]
    at = "the header" if first.row == 0 else f"row {first.row}"
    more = scan.faults - 1
    others = f" (and {more:,} more {'row' if more == 1 else 'rows'} at fault)" if more else ""
    return InvalidPayload(f"{verdict} {at}, {first.problem}{others}", scan.problems)


def _csv_rows(
    text: Iterable[str], delimiter: str, allow_multiline: bool, where: str, remedy: str
) -> Iterator[Row]:
    def stop(problem: RowProblem) -> None:
        verdict = f"{where}: reading stopped, the CSV layout is broken at"
        raise _refused(verdict, _CsvScan(problems=[problem], faults=1))

    records = _csv_records(text, delimiter, allow_multiline, remedy, stop)
    first = next(records, None)
    if first is None:
        return
    header = first[1]
    for number, values in records:
        # Checked as long as the header; strict=True would check it again per row.
        yield number, dict(zip(header, values, strict=False))


# -- encodings --------------------------------------------------------------------------------

_NOT_IN_WINDOWS_1252 = frozenset(b"\x81\x8d\x8f\x90\x9d")
_HIGH_RUN = re.compile(rb"[\x80-\xff]{3}")
_ENCODING_NAMES = {
    "cp1252": "Windows-1252 (latin-1)",
    "latin-1": "latin-1 (ISO 8859-1)",
    "utf-16": "UTF-16",
}


def likely_encoding(sample: bytes) -> str | None:
    """A guess at the encoding of text that is not UTF-8: ``utf-16`` (by its byte order
    mark), ``cp1252`` or ``latin-1`` for Western text, or None when it is neither.

    Western text in a single-byte code page has its accented letters one or two at a time
    among ASCII ones ("Zoë", "Müller"); Cyrillic, Greek or CJK text in theirs has runs of
    high bytes, and is not guessed at. Windows-1252 is latin-1 with printable characters
    (€, curly quotes) in place of control codes, so it is the guess unless a byte it leaves
    undefined appears.
    """
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    high = [byte for byte in sample if byte >= 0x80]
    if not high or _HIGH_RUN.search(sample):
        return None
    return "latin-1" if _NOT_IN_WINDOWS_1252.intersection(high) else "cp1252"


def _file_encoding_remedy(guess: str | None) -> str:
    if guess is None:
        return (
            'pass its encoding with --encoding (or encoding = "..." in the mapping), '
            "e.g. cp1252, latin-1, utf-16"
        )
    return f'pass --encoding {guess} (or set encoding = "{guess}" in the mapping)'


def _body_encoding_remedy(guess: str | None) -> str:
    if guess is None:
        return "name its encoding in the Content-Type: text/csv; charset=..."
    charset = {"cp1252": "windows-1252"}.get(guess, guess)
    return f"send it with Content-Type: text/csv; charset={charset}"


def _json_encoding_remedy(guess: str | None) -> str:
    return "JSON is UTF-8: convert the body to UTF-8" + (
        f" (it looks like {_ENCODING_NAMES[guess]})" if guess else ""
    )


class _Undecodable(Exception):
    def __init__(self, line: int, raw: bytes, start: int):
        self.line, self.raw, self.start = line, raw, start


def _undecodable(
    raw: Iterable[bytes],
    encoding: str,
    where: str,
    remedy: Callable[[str | None], str],
    delimiter: str | None,
) -> InvalidPayload:
    """The error for text that does not decode, naming the line (and the CSV row) of its
    first bad byte, with a guess at the encoding it is in. Reads ``raw`` again, up to that
    line, only when the text is known to be bad."""
    label = "UTF-8" if codecs.lookup(encoding).name == "utf-8" else encoding
    if "\n".encode(encoding) != b"\n":  # UTF-16 and UTF-32 do not split on newline bytes
        return InvalidPayload(f"{where}: not {label} text; {remedy(None)}")
    codec = _codec(encoding)
    earlier_non_ascii = False

    def lines() -> Iterator[str]:
        nonlocal earlier_non_ascii
        for number, data in enumerate(raw, start=1):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as error:
                raise _Undecodable(number, data, error.start) from None
            earlier_non_ascii = earlier_non_ascii or not text.isascii()
            yield text

    records = 0
    try:
        if delimiter is None:
            for _ in lines():
                pass
        else:
            for values in csv.reader(lines(), delimiter=delimiter):
                records += 0 if _blank(values) else 1
    except _Undecodable as bad:
        row = bad.line if delimiter is None else records
        at = f"line {bad.line}" + ("" if delimiter is None else f" (row {row})" if row else "")
        problem = f"not {label} text at {at}: byte 0x{bad.raw[bad.start]:02X}"
        guess = likely_encoding(bad.raw) if label == "UTF-8" else None
        if guess is not None and earlier_non_ascii:
            problem += (
                "; the lines before it hold UTF-8 text, so the file mixes two encodings: "
                "convert that line (or the file) to UTF-8"
            )
        elif guess is not None:
            problem += f"; it looks like {_ENCODING_NAMES[guess]}: {remedy(guess)}"
        else:
            problem += f"; {remedy(None)}"
        excerpt = bad.raw[max(bad.start - EXCERPT // 2, 0) : bad.start + EXCERPT // 2]
        shown = excerpt.decode(codec, "backslashreplace").rstrip("\r\n")
        return InvalidPayload(f"{where}: {problem}", [RowProblem(row, None, problem, value=shown)])
    except csv.Error:
        pass
    return InvalidPayload(f"{where}: not {label} text; {remedy(None)}")


def _decoded(
    rows: Iterator[Row], path: Path, encoding: str, delimiter: str | None
) -> Iterator[Row]:
    """Turn a decoding failure deep in a file into a clear error naming the file, the line
    and the likely encoding."""
    try:
        yield from rows
    except UnicodeDecodeError:
        with _open_binary(path) as raw:
            raise _undecodable(raw, encoding, path.name, _file_encoding_remedy, delimiter) from None


def _type(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else "null"
    )
