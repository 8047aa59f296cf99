"""`idgraph mapping check` and `idgraph mapping suggest`, run through typer's runner on
files written in the test: what a new user does with an export before loading it."""

from __future__ import annotations

import json
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
