"""`idgraph export-person`: an access request on the command line writes the person's
document as JSON, refuses bad input naming the option and the value, and is audited; on
every store."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from identity.graph import IdentityGraph
from identity.mapping import SourceMapping
from identity.model import RecordRef
from identity.privacy.access import ACCESS_EXPORT
from service.cli import app
from service.config import Settings
from tests.cli.stores import cli_store
from tests.store.conftest import backend_params

SHOP = {
    "source": "shop",
    "key": "id",
    "phone_region": "GB",
    "identifiers": {"email": "email", "phone": "phone", "cust": "customer_id"},
    "attributes": {"first": {"name": "first_name", "type": "name"}},
}
ROWS = [
    {"id": "ann-1", "cust": "C1", "email": "Ann.Lee@example.com", "phone": "07400 100001"},
    {"id": "ann-2", "email": "ann.lee@example.com", "first": "Ann"},
    {"id": "bob-1", "cust": "C2", "email": "bob@example.com", "phone": "07400 100001"},
]


@pytest.fixture(params=backend_params())
def store_url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A store holding Ann (two records) and Bob (who shares her phone), named to the CLI
    by IDGRAPH_STORE."""
    graph = cli_store(request.param, tmp_path, monkeypatch)
    try:
        graph.ingest.register_source(SourceMapping.from_document(SHOP, rules=graph.rules))
        report = graph.ingest.ingest_rows("shop", list(enumerate(ROWS, start=1)))
        assert not report.errors
    finally:
        graph.close()
    yield os.environ["IDGRAPH_STORE"]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def refused(*args: str) -> str:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    return " ".join(result.output.split())


def opened() -> IdentityGraph:
    """The graph the CLI opens (IDGRAPH_STORE and the Neo4j settings)."""
    return Settings().open_graph(None, None)


def test_export_person_writes_the_persons_document_to_a_file_only_its_owner_reads(
    store_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "requests" / "ann.json"
    result = invoke("export-person", "--identifier", "email:ANN.LEE@example.com", "--out", str(out))
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text("utf-8"))
    [profile] = document["profiles"]
    assert [(r["source"], r["key"]) for r in profile["records"]] == [
        ("shop", "ann-1"),
        ("shop", "ann-2"),
    ]
    assert profile["records"][0]["raw"]["email"] == "Ann.Lee@example.com"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    # The console wraps long lines wherever it likes (inside the path too): compared
    # without whitespace.
    said = f"wrote the access export of profile {profile['id']} to {out}"
    assert "".join(said.split()) in "".join(result.output.split())

    graph = opened()
    try:
        [entry] = graph.store.audit.entries(action=ACCESS_EXPORT)
        ref = RecordRef("shop", "ann-1")
        rid = graph.store.records.ids([ref])[ref]
        assert entry.entry.target == graph.store.profiles.ids_of([rid])[rid]
    finally:
        graph.close()
    assert entry.entry.actor.startswith("cli")
    assert "ann" not in json.dumps([entry.entry.target, entry.entry.after]).lower()


def test_export_person_with_a_dash_writes_the_document_to_stdout(
    store_url: str, tmp_path: Path
) -> None:
    first = invoke("export-person", "--identifier", "customer_id:c2", "--out", "-")
    assert first.exit_code == 0, first.output
    [bob] = json.loads(first.stdout)["profiles"]
    again = invoke("export-person", "--profile", bob["id"], "-o", "-")
    assert again.exit_code == 0, again.output
    document = json.loads(again.stdout)
    assert document["subject"] == {"by": "profile_id", "profile_id": bob["id"]}
    assert [r["key"] for r in document["profiles"][0]["records"]] == ["bob-1"]


def test_export_person_refuses_bad_input_naming_the_option_and_the_value(
    store_url: str, tmp_path: Path
) -> None:
    out = str(tmp_path / "out" / "x.json")
    assert "--identifier 'ann.lee@example.com': not KIND:VALUE" in refused(
        "export-person", "--identifier", "ann.lee@example.com", "--out", out
    )
    assert "--identifier 'email:': not KIND:VALUE" in refused(
        "export-person", "--identifier", "email:", "--out", out
    )
    assert "--identifier 'shoe_size:42': unknown identifier kind 'shoe_size'" in refused(
        "export-person", "--identifier", "shoe_size:42", "--out", out
    )
    assert "--identifier 'email:not an address': invalid email" in refused(
        "export-person", "--identifier", "email:not an address", "--out", out
    )
    assert "--identifier 'email:nobody@example.com': no profile holds this email" in refused(
        "export-person", "--identifier", "email:nobody@example.com", "--out", out
    )
    assert "--profile 'p_nobody': no profile with id 'p_nobody'" in refused(
        "export-person", "--profile", "p_nobody", "--out", out
    )
    ambiguous = refused("export-person", "--identifier", "phone:+447400100001", "--out", out)
    assert "--identifier 'phone:+447400100001': this phone belongs to 2 profiles" in ambiguous
    assert "--profile ID" in ambiguous
    assert "give exactly one of --identifier KIND:VALUE or --profile ID" in refused(
        "export-person", "--out", out
    )
    assert "give exactly one of" in refused(
        "export-person", "--identifier", "customer_id:c1", "--profile", "p_1", "--out", out
    )
    blocked = tmp_path / "out" / "a-file"
    blocked.write_text("")
    where = str(blocked / "ann.json")
    assert f"--out {where!r}:" in refused(
        "export-person", "--identifier", "customer_id:c1", "--out", where
    )
    # Nothing written: no document, no half-written temporary file.
    assert [p.name for p in blocked.parent.iterdir()] == ["a-file"]
    graph = opened()
    try:
        assert graph.store.audit.entries(action=ACCESS_EXPORT) == []
    finally:
        graph.close()
