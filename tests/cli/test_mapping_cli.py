"""`idgraph mapping check` and `idgraph mapping suggest`, run through typer's runner on
files written in the test: what a new user does with an export before loading it."""

from __future__ import annotations

import csv
import json
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app

EXPORT = """\
customer_no,Full Name,E-mail,Mobile,Country,DOB,Address
C1,Ann Lee,ann@example.com,07400 123456,United Kingdom,31/01/1990,"12 High St, Leeds LS1 4AP"
C2,"Smith, John",john@example,(201) 555-0123,USA,1985-03-04,"350 Fifth Avenue, New York, NY 10118"
C3,王小明,wang@example.cn,138 0013 8000,China,3 Apr 1970,"88 Jianguo Road, Beijing 100022"
C4,Mrs J. Kowalska,,512 345 678,Poland,yesterday,"ul. Marszałkowska 1, 00-950 Warszawa"
"""
MAPPING = """\
source = "export"
key = "customer_no"
phone_region = { field = "Country", default = "GB" }

[identifiers]
"E-mail" = "email"
Mobile = "phone"

[attributes]
"Full Name" = { name = "full_name", type = "full_name" }
DOB = { name = "birth_date", type = "date", formats = ["%Y-%m-%d", "%d/%m/%Y", "%d %b %Y"] }
Address = { name = "address", type = "address" }
"""


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IDGRAPH_STORE", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("IDGRAPH_RULES", raising=False)
    (tmp_path / "export.csv").write_text(EXPORT, "utf-8")
    (tmp_path / "export.toml").write_text(MAPPING, "utf-8")
    return tmp_path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_mapping_check_shows_fill_failures_with_their_values_and_a_preview(files: Path) -> None:
    code, output = invoke(
        "mapping", "check", str(files / "export.csv"), "--mapping", str(files / "export.toml")
    )
    assert code == 0, output
    assert "checked 4 rows" in output
    # The e-mail column: one empty, one that is no address, shown with its value.
    email = next(line for line in output.splitlines() if line.startswith("│ E-mail"))
    assert "3 (75%)" in email and "1 (33%)" in email
    assert "E-mail failed on 'john@example': " in output
    assert "DOB failed on 'yesterday': not a date" in output
    preview = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert len(preview) == 4
    assert "phone:+12015550123" in preview[1]["identifiers"]  # read in the row's country
    assert preview[2]["attributes"]["last_name"] == "王"
    assert preview[0]["attributes"]["postcode"] == "LS1 4AP"


def test_mapping_check_exits_non_zero_naming_fields_the_file_never_holds(files: Path) -> None:
    (files / "typo.toml").write_text(MAPPING.replace('"E-mail"', '"Email"'), "utf-8")
    code, output = invoke(
        "mapping", "check", str(files / "export.csv"), "-m", str(files / "typo.toml")
    )
    assert code == 1, output
    assert "never seen in export.csv: Email" in output


def test_mapping_check_reads_at_most_the_rows_asked(files: Path) -> None:
    code, output = invoke(
        "mapping", "check", str(files / "export.csv"), "-m", str(files / "export.toml"),
        "--rows", "2",
    )  # fmt: skip
    assert code == 0, output
    assert "checked 2 rows" in output


def test_mapping_check_names_a_mapping_error_with_its_place(files: Path) -> None:
    (files / "bad.toml").write_text(MAPPING.replace('"%d %b %Y"', '"%Q"'), "utf-8")
    code, output = invoke(
        "mapping", "check", str(files / "export.csv"), "-m", str(files / "bad.toml")
    )
    assert code == 2
    assert "attributes.DOB.formats[2]" in output


def test_mapping_suggest_drafts_a_mapping_that_loads_checks_and_ingests(files: Path) -> None:
    export, draft = files / "export.csv", files / "draft.toml"
    code, output = invoke("mapping", "suggest", str(export), "--out", str(draft))
    assert code == 0, output
    mapping = tomllib.loads(draft.read_text("utf-8"))
    assert mapping["source"] == "export" and mapping["key"] == "customer_no"
    assert mapping["identifiers"] == {"E-mail": "email", "Mobile": "phone"}
    assert mapping["phone_region"]["field"] == "Country"
    attributes = mapping["attributes"]
    assert attributes["Full Name"] == {"name": "full_name", "type": "full_name"}
    assert attributes["Address"] == {"name": "address", "type": "address"}
    assert attributes["DOB"]["name"] == "birth_date" and attributes["DOB"]["day_first"] is True
    assert "# CHECK" in draft.read_text("utf-8")  # where unsure, it says so

    code, output = invoke("mapping", "check", str(export), "--mapping", str(draft))
    assert code == 0, output
    code, output = invoke("ingest", str(export), "--mapping", str(draft))
    assert code == 0, output
    assert "4 accepted" in output


def test_mapping_suggest_reaches_into_nested_json_and_prints_without_out(files: Path) -> None:
    rows = [
        {
            "uid": f"u{n}",
            "contact": {"email": f"user{n}@example.com", "first": "Ann", "last": "Lee"},
            "phones": [{"number": f"+44 7400 12345{n}"}, {"number": f"+44 7400 65432{n}"}],
            "signed_up": f"2024-0{n + 1}-01T10:00:00",
        }
        for n in range(3)
    ]
    data = files / "app.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n", "utf-8")
    code, output = invoke("mapping", "suggest", str(data))
    assert code == 0, output
    mapping = tomllib.loads(output)
    assert mapping["key"] == "uid"
    assert mapping["identifiers"] == {"contact.email": "email", "phones[*].number": "phone"}
    assert mapping["attributes"]["contact.first"]["name"] == "first_name"
    assert mapping["timestamp"] == "signed_up"
    (files / "app.toml").write_text(output, "utf-8")
    code, output = invoke("mapping", "check", str(data), "--mapping", str(files / "app.toml"))
    assert code == 0, output


def test_ingest_errors_out_carries_each_warnings_value_and_reason(files: Path) -> None:
    problems_file = files / "problems.csv"
    code, output = invoke(
        "ingest", str(files / "export.csv"), "--mapping", str(files / "export.toml"),
        "--errors-out", str(problems_file),
    )  # fmt: skip
    assert code == 0, output
    assert "(value: 'john@example')" in output
    with problems_file.open(encoding="utf-8", newline="") as fh:
        found = {(p["field"], p["value"]): p["problem"] for p in csv.DictReader(fh)}
    assert "not valid" in found["E-mail", "john@example"]
    assert found["DOB", "yesterday"].startswith("not a date")


def test_ingest_events_maps_a_csv_of_cookies_and_devices(files: Path) -> None:
    (files / "events.csv").write_text(
        "id,action,when,cookie,device,email\n"
        "e1,page_view,2024-07-01T10:00:00Z,c-1,,\n"
        "e2,login,2024-07-01T10:05:00Z,c-1,d-9,ann@example.com\n"
        "e3,page_view,2024-07-01T10:06:00Z,,,\n",
        "utf-8",
    )
    (files / "events.toml").write_text(
        'event_id = "id"\ntype = "action"\ntimestamp = "when"\n'
        '[identifiers]\ncookie = "cookie_id"\ndevice = "device_id"\nemail = "email"\n',
        "utf-8",
    )
    code, output = invoke(
        "ingest-events", str(files / "events.csv"), "--mapping", str(files / "events.toml")
    )
    assert code == 0, output
    assert "3 events, 2 accepted" in output and "1 rejected" in output  # e3 carries none


def test_an_event_mapping_finds_its_columns_whichever_way_the_accents_are_encoded(
    files: Path,
) -> None:
    # The file's header composes the accent (U+00E9), the mapping spells it decomposed.
    (files / "events.csv").write_text(
        "id,action,when,cookie_r\u00e9f\ne1,page_view,2024-07-01T10:00:00Z,c-1\n", "utf-8"
    )
    (files / "events.toml").write_text(
        'event_id = "id"\ntype = "action"\ntimestamp = "when"\n'
        '[identifiers]\n"cookie_re\u0301f" = "cookie_id"\n',
        "utf-8",
    )
    code, output = invoke(
        "ingest-events", str(files / "events.csv"), "--mapping", str(files / "events.toml")
    )
    assert code == 0, output
    assert "1 events, 1 accepted" in output  # without its identifier it would be rejected


EVENTS = [
    {"event_id": "e1", "type": "page_view", "timestamp": "2024-07-01T10:00:00Z",
     "anonymous_id": "c-1", "user": None},
    {"event_id": "e2", "type": "login", "timestamp": "2024-07-01T10:05:00Z",
     "anonymous_id": "c-1", "user": {"email": "ann@example.com"}},
    {"event_id": "e3", "type": "login", "timestamp": "2024-07-01T10:06:00Z",
     "anonymous_id": "", "user": {"email": "ann@example"}},
    {"event_id": "e4", "type": "page_view", "timestamp": "yesterday", "anonymous_id": "c-2"},
]  # fmt: skip


def test_mapping_check_takes_an_event_mapping_and_previews_events(files: Path) -> None:
    data = files / "events.jsonl"
    data.write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n", "utf-8")
    (files / "events.toml").write_text(
        'event_id = "event_id"\ntype = "type"\ntimestamp = "timestamp"\n'
        '[identifiers]\nanonymous_id = "cookie_id"\n"user.email" = "email"\n',
        "utf-8",
    )
    code, output = invoke("mapping", "check", str(data), "--mapping", str(files / "events.toml"))
    assert code == 0, output
    assert "checked 4 rows" in output and "(events): 2 rejected" in output
    assert "user.email failed on 'ann@example'" in output  # no usable identifier: rejected
    assert "timestamp failed on 'yesterday'" in output
    preview = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert [p["event_id"] for p in preview] == ["e1", "e2"]
    assert preview[1]["identifiers"] == ["cookie_id:c-1", "email:ann@example.com"]


def test_mapping_suggest_drafts_an_event_mapping_for_an_event_log(files: Path) -> None:
    data, draft = files / "events.jsonl", files / "draft.toml"
    rows = [{**e, "timestamp": "2024-07-01T10:00:00Z"} for e in EVENTS[:3]]
    data.write_text("\n".join(json.dumps(e) for e in rows) + "\n", "utf-8")
    code, output = invoke("mapping", "suggest", str(data), "--out", str(draft))
    assert code == 0, output
    doc = tomllib.loads(draft.read_text("utf-8"))
    assert doc["event_id"] == "event_id" and doc["type"] == "type"
    assert doc["identifiers"] == {"anonymous_id": "cookie_id", "user.email": "email"}
    code, output = invoke("mapping", "check", str(data), "--mapping", str(draft))
    assert code == 0, output
    code, output = invoke("mapping", "suggest", str(data), "--records")
    assert code == 0 and 'key = "event_id"' in output
