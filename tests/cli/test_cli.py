"""The `idgraph` command, run in-process through typer's runner against a real store."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from identity.graph import IdentityGraph
from service.cli import app
from tests.identity.test_readers import LATIN_1, UNCLOSED_QUOTE

MAPPING = """
source = "shop"
key = "id"
phone_region = "GB"
priority = 60

[identifiers]
email = "email"
phone = "phone"

[attributes]
first = { name = "first_name", type = "name" }
"""


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IDGRAPH_STORE", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("IDGRAPH_TOKENS_FILE", str(tmp_path / "tokens.toml"))
    monkeypatch.delenv("IDGRAPH_RULES", raising=False)
    (tmp_path / "shop.toml").write_text(MAPPING)
    return tmp_path


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def fails(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 2, result.output
    return result.output


def problems(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def stored(env: Path) -> dict[str, dict[str, object]]:
    """The attributes of every stored record, by key."""
    graph = IdentityGraph.open(f"sqlite:///{env / 'cli.db'}")
    try:
        return {r.record.key: dict(r.record.attributes) for r in graph.store.records.scan()}
    finally:
        graph.close()


CRM = Path(__file__).parents[2] / "identity" / "demo" / "mappings" / "crm.toml"


def test_ingest_registers_the_mapping_and_export_writes_one_row_per_record(env: Path) -> None:
    data = env / "shop.jsonl"
    data.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {"id": "a", "email": "ann@example.com", "first": "Ann"},
                {"id": "b", "email": "ANN@example.com", "loyalty_tier": "gold"},
                {"id": "c", "phone": "07400 123456"},
            ]
        )
    )
    output = run("ingest", str(data), "--mapping", str(env / "shop.toml"))
    assert "3 accepted" in output

    run("export-profiles", "--out", str(env / "out.csv"))
    with (env / "out.csv").open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["source", "record_key", "profile_id"]
    by_key = {r[1]: r[2] for r in rows[1:]}
    assert set(by_key) == {"a", "b", "c"}
    assert by_key["a"] == by_key["b"] != by_key["c"]


def test_ingest_reports_rejected_rows_and_writes_them_to_the_errors_file(env: Path) -> None:
    run("sources", "add", str(env / "shop.toml"))
    data = env / "shop.csv"
    data.write_text("id,email,phone\na,a@example.com,\n,nokey@example.com,\nc,broken,\n")
    output = run("ingest", str(data), "--source", "shop", "--errors-out", str(env / "err.csv"))
    assert "2 accepted" in output
    assert "1 rejected" in output
    with (env / "err.csv").open() as fh:
        problems = list(csv.DictReader(fh))
    assert {(p["severity"], p["row"], p["field"]) for p in problems} == {
        ("error", "2", "id"),
        ("warning", "3", "email"),
    }


def test_ingest_refuses_rows_out_of_the_limits_showing_the_owner_the_value(env: Path) -> None:
    data = env / "shop.jsonl"
    lines = [
        '{"id": "a", "email": "ann@example.com", "note": "RS\\u00005"}',
        "[" * 100_000 + "]" * 100_000,
        '{"id": "c", "first": "Bo\\ud800b"}',
        '{"id": "d", "score": NaN}',
        '{"id": "e", "email": "eve@example.com"}',
    ]
    data.write_text("\n".join(lines) + "\n")
    output = run(
        "ingest", str(data), "--mapping", str(env / "shop.toml"), "--errors-out", str(env / "e.csv")
    )
    assert "1 accepted" in output and "4 rejected" in output
    assert "row 1 field 'note': holds a NUL character (U+0000) at character 3" in output
    assert "(value: 'RS\\x005')" in output
    assert "row 2: the line nests 100,000 levels deep; the limit is 16" in output
    assert "row 4 field 'score': is NaN" in output
    with (env / "e.csv").open(encoding="utf-8") as fh:
        problems = {p["row"]: p for p in csv.DictReader(fh)}
    assert problems["1"]["value"] == "RS\\u00005"
    assert problems["3"]["value"] == "Bo\\ud800b"


def test_ingest_of_an_unregistered_source_fails_with_how_to_register_it(env: Path) -> None:
    data = env / "x.csv"
    data.write_text("id\n1\n")
    result = CliRunner().invoke(app, ["ingest", str(data), "--source", "nowhere"])
    assert result.exit_code == 2
    assert "idgraph sources add" in result.output and "--mapping" in result.output
    assert "PUT /v1/sources" not in result.output


def test_a_mapping_with_an_unknown_identifier_kind_is_refused_naming_it(env: Path) -> None:
    bad = env / "bad.toml"
    bad.write_text('source = "bad"\nkey = "id"\n[identifiers]\nid = "passport"\n')
    result = CliRunner().invoke(app, ["sources", "add", str(bad)])
    assert result.exit_code == 2
    assert "passport" in result.output


def test_evaluate_prints_pairwise_scores_against_a_truth_file(env: Path) -> None:
    data = env / "shop.csv"
    data.write_text("id,email\na,x@example.com\nb,x@example.com\nc,y@example.com\n")
    run("ingest", str(data), "--mapping", str(env / "shop.toml"))
    truth = env / "truth.csv"
    truth.write_text("source,record_key,entity_id\nshop,a,1\nshop,b,1\nshop,c,1\n")
    output = run("evaluate", "--truth", str(truth))
    assert "precision" in output
    assert "1.0000" in output
    assert "0.3333" in output


def test_link_reports_the_blocking_keys_it_skipped_as_oversized(env: Path) -> None:
    packaged = Path(__file__).parents[2] / "identity" / "config" / "rules.toml"
    rules = env / "rules.toml"
    rules.write_text(packaged.read_text().replace("max_block_size = 2000", "max_block_size = 2"))
    data = env / "shop.csv"
    data.write_text(
        "id,email,phone,first\n"
        "a,ann@example.com,07400 123456,Ann\n"
        "b,bob@example.com,07400 123456,Bob\n"
        "c,cy@example.com,07400 123456,Cy\n"
        "d,dee@example.com,07400 654321,Dee\n"
        "e,dee@example.com,07400 654321,Dee\n"
    )
    run("ingest", str(data), "--mapping", str(env / "shop.toml"), "--rules", str(rules))
    run("train", "--rules", str(rules))
    output = run("link", "--rules", str(rules))
    assert "1 blocking key values held by more than max_block_size" in output
    assert "3:+447400123456 (3 records)" in output
    # The run is audited with the review queue's size after it (the quality page's history).
    graph = IdentityGraph.open(f"sqlite:///{env / 'cli.db'}")
    try:
        (entry,) = graph.store.audit.entries(action="link")
        assert entry.entry.target == "local" and entry.entry.actor.startswith("cli")
        assert entry.entry.after["review_queue"] == graph.quality.review_queue_size()
        assert graph.quality.review_queue_history()[-1].size == graph.quality.review_queue_size()
    finally:
        graph.close()


def test_token_create_stores_only_a_hash_and_refuses_unknown_scopes(env: Path) -> None:
    from service.auth import TokenRegistry

    token = run("token", "create", "--name", "etl", "--scope", "ingest:write").strip().splitlines()
    created = token[-1]
    stored = (env / "tokens.toml").read_text()
    assert created not in stored and "etl" in stored
    principal = TokenRegistry(env / "tokens.toml").authenticate(created)
    assert principal is not None and principal.has("ingest:write")
    assert not principal.has("profiles:read")

    result = CliRunner().invoke(app, ["token", "create", "--name", "x", "--scope", "bogus"])
    assert result.exit_code == 2
    assert "unknown scope 'bogus'" in result.output


def _export(env: Path, store: str, name: str) -> list[list[str]]:
    run("export-profiles", "--out", str(env / name), "--store", store)
    with (env / name).open() as fh:
        return list(csv.reader(fh))


def test_migrate_copies_a_store_and_refuses_a_target_that_is_not_empty(env: Path) -> None:
    data = env / "shop.csv"
    data.write_text(
        "id,email,phone\na,ann@example.com,\nb,ANN@example.com,07400 123456\nc,,07400 123456\n"
        "d,bob@example.com,\n"
    )
    run("ingest", str(data), "--mapping", str(env / "shop.toml"))
    source, target = f"sqlite:///{env / 'cli.db'}", f"sqlite:///{env / 'copy' / 'copy.db'}"

    output = run("migrate", "--from", source, "--to", target, "--batch-size", "2")
    assert "copied 4 records" in output and "1 source mappings" in output
    assert "records" in output and "links" in output  # the progress bars' stages
    assert _export(env, target, "copy.csv") == _export(env, source, "source.csv")
    # The copy knows the source's mapping: ingesting into it by name works.
    more = env / "more.csv"
    more.write_text("id,email\ne,bob@example.com\n")
    run("ingest", str(more), "--source", "shop", "--store", target)
    copied = {row[1]: row[2] for row in _export(env, target, "copy.csv")[1:]}
    assert copied["e"] == copied["d"] != copied["a"]

    refused = CliRunner().invoke(app, ["migrate", "--from", source, "--to", target])
    assert refused.exit_code == 2
    assert "not empty (5 records" in refused.output and "--replace" in refused.output
    output = run("migrate", "--from", source, "--to", target, "--replace")
    assert "the target's earlier contents were deleted" in output
    assert _export(env, target, "copy.csv") == _export(env, source, "source.csv")


@pytest.mark.parametrize(
    "args, problem",
    [
        (["--to", "sqlite:///{env}/./cli.db"], "name the same store"),
        (["--to", "postgres://db/idgraph"], "unknown store URL scheme 'postgres'"),
    ],
)
def test_migrate_refuses_what_it_cannot_do(env: Path, args: list[str], problem: str) -> None:
    (env / "cli.db").touch()
    argv = ["migrate", "--from", f"sqlite:///{env}/cli.db", *(a.format(env=env) for a in args)]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert problem in result.output


def test_migrate_from_a_store_that_does_not_exist_creates_nothing(env: Path) -> None:
    missing = env / "typo.db"
    result = CliRunner().invoke(
        app, ["migrate", "--from", f"sqlite:///{missing}", "--to", f"sqlite:///{env}/t.db"]
    )
    assert result.exit_code == 2
    assert f"no store to copy at {missing}" in result.output
    assert not missing.exists() and not (env / "t.db").exists()


# -- files refused whole: nothing stored, the reason named, --errors-out written ----------------


def test_a_quote_never_closed_stops_the_ingest_naming_row_2_and_its_lines_storing_nothing(
    env: Path,
) -> None:
    data = env / "customers.csv"
    data.write_text(UNCLOSED_QUOTE, "utf-8")
    errors = env / "errors.csv"
    output = fails("ingest", str(data), "--mapping", str(CRM), "--errors-out", str(errors))
    assert "customers.csv is refused: its CSV layout is broken at row 2, lines 3-5" in output
    assert "4 fields but the header has 9" in output
    assert "the quoted value of 'first_name' opens at line 3" in output
    assert "the text at fault: 'Bo,Chen,17/11/1990" in output
    assert "nothing was stored" in output
    assert stored(env) == {}
    [problem] = problems(errors)
    assert (problem["severity"], problem["row"], problem["field"]) == ("error", "2", "first_name")
    assert problem["file"] == str(data) and problem["value"].startswith("Bo,Chen")
    # Allowing values that span lines does not make a row of 4 fields out of 9 fit.
    fails("ingest", str(data), "--mapping", str(CRM), "--allow-multiline")
    assert stored(env) == {}


def test_every_file_is_checked_before_any_is_stored(env: Path) -> None:
    good = env / "good.csv"
    good.write_text("id,email\na,ann@example.com\n")
    broken = env / "broken.csv"
    broken.write_text("id,email\nb,bo@example.com,extra\n")
    output = fails("ingest", str(good), str(broken), "--mapping", str(env / "shop.toml"))
    assert "broken.csv is refused: its CSV layout is broken at row 1, line 2: 3 fields" in output
    assert stored(env) == {}


def test_a_value_spanning_lines_that_looks_like_rows_loads_only_when_allowed(env: Path) -> None:
    data = env / "shop.csv"
    data.write_text('id,email,first\na,ann@example.com,"Ann\nb,bo@example.com,Bo"\n')
    output = fails("ingest", str(data), "--mapping", str(env / "shop.toml"))
    assert "row 1, lines 2-3: the quoted value of 'first' opens at line 2" in output
    assert "pass --allow-multiline" in output
    output = run("ingest", str(data), "--mapping", str(env / "shop.toml"), "--allow-multiline")
    assert "1 accepted" in output
    assert stored(env)["a"]["first_name"] == "Ann\nb,bo@example.com,Bo"


def test_a_well_formed_multiline_address_loads_as_written(env: Path) -> None:
    data = env / "customers.csv"
    data.write_text(
        "customer_no,email,first_name,address_line,city\n"
        'C-1,ann@example.com,Ann,"Flat 2, 12 High St\nHyde Park",Leeds\n'
        "C-2,bo@example.com,Bo,1 Low Rd,York\n",
        "utf-8",
    )
    errors = env / "errors.csv"
    output = run("ingest", str(data), "--mapping", str(CRM), "--errors-out", str(errors))
    assert "2 rows, 2 accepted" in output
    assert stored(env)["C-1"]["address"] == "Flat 2, 12 High St\nHyde Park"
    assert problems(errors) == []
    assert errors.read_text().startswith("source,severity,row,key,field,problem,value,file")


def test_an_empty_file_fails_and_a_header_alone_warns(env: Path) -> None:
    empty = env / "empty.csv"
    empty.write_bytes(b"")
    errors = env / "errors.csv"
    output = fails("ingest", str(empty), "--mapping", str(CRM), "--errors-out", str(errors))
    assert "empty.csv is empty: a CSV file needs at least a header" in output
    [problem] = problems(errors)
    assert (problem["severity"], problem["row"], problem["file"]) == ("error", "", str(empty))

    header = env / "header.csv"
    header.write_text(UNCLOSED_QUOTE.splitlines()[0] + "\n")
    output = run("ingest", str(header), "--mapping", str(CRM), "--errors-out", str(errors))
    assert "0 rows" in output and "warning: no rows to ingest" in output
    [problem] = problems(errors)
    assert (problem["severity"], problem["file"]) == ("warning", str(header))


def test_a_latin1_file_fails_naming_the_encoding_to_pass_and_loads_with_it(env: Path) -> None:
    data = env / "latin1.csv"
    data.write_bytes(LATIN_1)
    errors = env / "errors.csv"
    output = fails("ingest", str(data), "--mapping", str(CRM), "--errors-out", str(errors))
    assert "not UTF-8 text at line 2 (row 1): byte 0xEB" in output
    assert "looks like Windows-1252 (latin-1): pass --encoding cp1252" in output
    assert stored(env) == {}
    [problem] = problems(errors)
    assert (problem["row"], problem["value"]) == ("1", "C-9,Zo\\xeb,M\\xfcller")

    run("ingest", str(data), "--mapping", str(CRM), "--encoding", "latin-1")
    names = {key: (a["first_name"], a["last_name"]) for key, a in stored(env).items()}
    assert names == {"C-9": ("Zoë", "Müller"), "C-10": ("José", "Núñez")}


def test_the_encoding_of_a_source_can_be_set_in_its_mapping(env: Path) -> None:
    mapping = env / "shop.toml"
    mapping.write_text('encoding = "cp1252"\n' + MAPPING)
    data = env / "shop.csv"
    data.write_bytes("id,first\na,Zoë – “Z”\n".encode("cp1252"))
    run("ingest", str(data), "--mapping", str(mapping))
    assert stored(env)["a"]["first_name"] == "Zoë – “Z”"
    mapping.write_text('encoding = "klingon"\n' + MAPPING)
    output = fails("ingest", str(data), "--mapping", str(mapping))
    assert "unknown text encoding 'klingon'" in output and "field 'encoding'" in output
    output = fails("ingest", str(data), "--source", "shop", "--encoding", "klingon")
    assert "--encoding" in output


def test_the_errors_file_is_written_when_the_source_is_unknown(env: Path) -> None:
    data = env / "x.csv"
    data.write_text("id\n1\n")
    errors = env / "errors.csv"
    fails("ingest", str(data), "--source", "nowhere", "--errors-out", str(errors))
    [problem] = problems(errors)
    assert problem["source"] == "nowhere" and "idgraph sources add" in problem["problem"]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("shop.csv", "id,email,first\na,ann@example.com,An\x00n\nb,bo@example.com,Bo\n"),
        (
            "shop.jsonl",
            '{"id": "a", "email": "ann@example.com", "first": "An\\u0000n"}\n'
            '{"id": "b", "email": "bo@example.com", "first": "Bo"}\n',
        ),
    ],
)
def test_a_nul_in_a_name_field_is_refused_naming_the_field_and_showing_the_value_printable(
    env: Path, name: str, text: str
) -> None:
    data = env / name
    data.write_text(text, encoding="utf-8")
    output = run(
        "ingest", str(data), "--mapping", str(env / "shop.toml"), "--errors-out", str(env / "e.csv")
    )
    assert "1 accepted" in output and "1 rejected" in output
    assert "row 1 field 'first': holds a NUL character (U+0000) at character 3" in output
    assert "(value: 'An\\x00n')" in output
    assert problems(env / "e.csv")[0]["value"] == "An\\u0000n"
    assert set(stored(env)) == {"b"}


@pytest.mark.parametrize(
    ("name", "text", "field"),
    [
        ("shop.csv", "id,email,fir\x00st\na,ann@example.com,Ann\n", "fir\\u0000st"),
        (
            "shop.jsonl",
            '{"id": "a", "email": "ann@example.com", "address": {"li\\u0000ne": "1 High St"}}\n',
            "address.li\\u0000ne",
        ),
    ],
)
def test_a_nul_in_a_field_name_at_any_depth_is_refused_naming_the_field_printable(
    env: Path, name: str, text: str, field: str
) -> None:
    data = env / name
    data.write_text(text, encoding="utf-8")
    output = " ".join(run("ingest", str(data), "--mapping", str(env / "shop.toml")).split())
    assert "0 accepted" in output and "1 rejected" in output
    assert f"row 1 field '{field}': the field name holds a NUL character (U+0000)" in output
    assert stored(env) == {}


def test_a_nul_deep_in_an_event_is_refused_naming_the_field_and_showing_the_value(
    env: Path,
) -> None:
    data = env / "events.jsonl"
    event = {
        "event_id": "ev-1",
        "type": "page_view",
        "timestamp": "2026-03-01T10:00:00Z",
        "identifiers": {"email": "ann@example.com"},
        "properties": {"cart": [{"sku": "A\x001"}]},
    }
    data.write_text(json.dumps(event) + "\n", encoding="utf-8")
    output = " ".join(run("ingest-events", str(data)).split())
    assert "0 accepted" in output and "1 rejected" in output
    assert "row 1 field 'properties.cart[0].sku': holds a NUL character (U+0000)" in output
    assert "(value: 'A\\x001')" in output


def test_decomposed_and_composed_accents_are_one_value_one_identifier_one_profile(
    env: Path,
) -> None:
    decomposed, composed = "Zoe\u0308", "Zo\u00eb"
    (env / "shop.csv").write_text(
        f"id,email,first\na,{decomposed.lower()}@example.com,{decomposed}\n", encoding="utf-8"
    )
    (env / "shop.jsonl").write_text(
        json.dumps({"id": "b", "email": f"{composed.lower()}@example.com", "first": composed})
        + "\n",
        encoding="utf-8",
    )
    for name in ("shop.csv", "shop.jsonl"):
        assert "1 accepted" in run("ingest", str(env / name), "--mapping", str(env / "shop.toml"))
    assert stored(env) == {"a": {"first_name": composed}, "b": {"first_name": composed}}
    graph = IdentityGraph.open(f"sqlite:///{env / 'cli.db'}")
    try:
        [profile] = graph.profiles.by_identifier("email", f"{decomposed.lower()}@example.com")
    finally:
        graph.close()
    assert len(profile.records) == 2
    [email] = [i for i in profile.identifiers if i.kind == "email"]
    assert (email.value, email.originals) == ("zo\u00eb@example.com", ("zo\u00eb@example.com",))
    assert [(a.name, a.value) for a in profile.attributes] == [("first_name", composed)]
