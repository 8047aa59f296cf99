"""`idgraph rules diff | apply | undo | show`, run in-process against a real store: what a
user types to change a rule on stored data, and what they read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from identity.graph import IdentityGraph
from identity.rules import rules_text
from tests.cli.test_cli import env, fails, run  # noqa: F401  (env is a fixture)
from tests.identity.test_rule_changes import JUNK, with_blocked

ROWS = [
    "id,email,phone,first",
    "a1,ann@mail.example,+447911123400,Ann",
    f"a3,{JUNK},+447911123400,Ann",
    f"b1,{JUNK},+447911123456,Bob",
    f"c1,{JUNK},+447911123457,Cat",
]
TRUTH = ["source,record_key,entity_id", "shop,a1,ann", "shop,a3,ann", "shop,b1,bob", "shop,c1,cat"]


@pytest.fixture
def loaded(env: Path) -> Path:  # noqa: F811  (the fixture imported above)
    (env / "shop.csv").write_text("\n".join(ROWS) + "\n")
    (env / "truth.csv").write_text("\n".join(TRUTH) + "\n")
    (env / "new.toml").write_text(with_blocked(rules_text(), "email", JUNK))
    run("ingest", str(env / "shop.csv"), "--mapping", str(env / "shop.toml"))
    return env


def partition(folder: Path) -> set[frozenset[str]]:
    graph = IdentityGraph.open(f"sqlite:///{folder / 'cli.db'}")
    try:
        groups: dict[str | None, set[str]] = {}
        for ref, pid in graph.store.records.scan_profiles():
            groups.setdefault(pid, set()).add(ref.key)
    finally:
        graph.close()
    return {frozenset(g) for g in groups.values()}


def test_diff_says_what_would_split_and_the_quality_change_and_stores_nothing(
    loaded: Path,
) -> None:
    output = run("rules", "diff", str(loaded / "new.toml"), "--truth", str(loaded / "truth.csv"))
    assert f"change: blocklist.email: + {JUNK}" in output
    assert "profiles: 0 would merge, 1 would split, 0 would stay; 1 -> 3 profiles" in output
    assert "identifiers: 0 start linking, 1 stop" in output
    assert "(new profile)" in output and "shop:b1" in output
    # Ann's two records (one phone) stay together; Bob and Cat leave: precision 1/6 -> 1.
    assert "precision │ 0.1667 │ 1.0000 │ +0.8333" in output
    assert partition(loaded) == {frozenset({"a1", "a3", "b1", "c1"})}


def test_apply_needs_a_reason_then_the_store_runs_with_the_new_rules_until_undone(
    loaded: Path,
) -> None:
    missing = fails("rules", "apply", str(loaded / "new.toml"))
    assert "--reason" in missing
    report = json.loads(
        run("rules", "apply", str(loaded / "new.toml"), "--reason", "till address", "--json")
    )
    assert (report["applied"], report["split"], report["profiles_after"]) == (True, 1, 3)
    assert partition(loaded) == {frozenset({"a1", "a3"}), frozenset({"b1"}), frozenset({"c1"})}
    shown = run("rules", "show")
    assert f"rules applied by audit entry {report['audit_id']}" in shown and JUNK in shown

    # A later load, opened without --rules, runs with the applied rules: the till's
    # address joins nobody.
    (loaded / "more.csv").write_text(f"id,email,phone,first\nd1,{JUNK},,Dan\n")
    run("ingest", str(loaded / "more.csv"), "--source", "shop")
    assert frozenset({"d1"}) in partition(loaded)

    undone = run("rules", "undo", "--reason", "wrong call")
    assert "4 -> 1 profiles" in undone
    assert partition(loaded) == {frozenset({"a1", "a3", "b1", "c1", "d1"})}
    again = fails("rules", "undo", "--reason", "once more")
    assert "no applied rule change is left to undo" in again


def test_a_rules_file_in_error_is_refused_naming_the_file_and_field(loaded: Path) -> None:
    bad = loaded / "bad.toml"
    bad.write_text(rules_text().replace('case = "upper"', 'case = "lower"', 1))
    output = fails("rules", "diff", str(bad))
    assert "field 'kinds.customer_id.case'" in output and "re-ingest" in output
    broken = loaded / "broken.toml"
    broken.write_text("[kinds\n")
    assert "not valid TOML" in fails("rules", "diff", str(broken))
    assert "cannot read the rules file" in fails("rules", "diff", str(loaded / "none.toml"))


def test_a_diff_starts_from_the_rules_file_the_deployment_is_configured_with(
    loaded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # IDGRAPH_RULES names the rules every command runs with: a diff against that same file
    # changes nothing, as the graph it opens already runs with it.
    monkeypatch.setenv("IDGRAPH_RULES", str(loaded / "new.toml"))
    output = run("rules", "diff", str(loaded / "new.toml"))
    assert "the new rules change nothing the graph depends on" in output
    assert "profiles: 0 would merge, 0 would split" in output
