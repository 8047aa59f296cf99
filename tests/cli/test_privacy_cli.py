"""Erasure, the suppression list and retention on the command line: `idgraph erase` deletes
the person it names once confirmed, `suppression list|remove` show and lift what keeps them
out, `retention apply` deletes what is past its period (profiles re-resolving), and
`remove-identifier` takes one wrong identifier off a profile; bad input is refused naming
the option and the value, with nothing changed. On every store."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from identity.mapping import SourceMapping
from identity.model import RecordRef
from service.cli import app
from service.config import Settings
from tests.cli.stores import cli_store
from tests.store.conftest import backend_params

NOW = datetime.now(UTC).replace(microsecond=0)
RECENT = (NOW - timedelta(days=10)).isoformat()
OLD = (NOW - timedelta(days=800)).isoformat()

SHOP = {
    "source": "shop",
    "key": "id",
    "timestamp": "at",
    "retention_days": 365,
    "phone_region": "GB",
    "identifiers": {"email": "email", "phone": "phone", "cust": "customer_id"},
    "attributes": {"first": {"name": "first_name", "type": "name"}},
}
FIELDS = ["id", "cust", "email", "phone", "first", "at"]
ROWS = [
    # Ann: two records joined by her e-mail.
    {"id": "ann-1", "cust": "C1", "email": "Ann.Lee@example.com", "phone": "07400 100001"},
    {"id": "ann-2", "email": "ann.lee@example.com", "first": "Ann"},
    # Bob shares Ann's phone; his customer number keeps him apart.
    {"id": "bob-1", "cust": "C2", "email": "bob@example.com", "phone": "07400 100001"},
    # Dan's only record is past the shop's 365 days; Eve has an old and a young one.
    {"id": "dan-1", "email": "dan@example.com", "first": "Dan", "at": OLD},
    {"id": "eve-1", "cust": "C5", "email": "eve@example.com", "first": "Eve", "at": OLD},
    {"id": "eve-2", "email": "eve@example.com", "phone": "07400 500005"},
]
EVENTS = [
    {
        "event_id": "bob-old",
        "type": "page_view",
        "timestamp": OLD,
        "identifiers": {"email": "bob@example.com"},
    },
    {
        "event_id": "bob-new",
        "type": "page_view",
        "timestamp": RECENT,
        "identifiers": {"email": "bob@example.com"},
    },
]


@pytest.fixture(params=backend_params())
def store_url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A store holding :data:`ROWS` (loaded from a CSV file, as `idgraph ingest` would)
    and :data:`EVENTS`, named to the CLI by IDGRAPH_STORE."""
    graph = cli_store(request.param, tmp_path, monkeypatch)
    try:
        graph.ingest.register_source(SourceMapping.from_document(SHOP, rules=graph.rules))
        rows = [{"at": RECENT, **row} for row in ROWS]
        report = graph.ingest.ingest_rows("shop", list(enumerate(rows, start=1)))
        assert not report.errors and report.created == len(ROWS)
        events = graph.events.ingest_rows(list(enumerate(EVENTS, start=1)))
        assert not events.errors and events.created == len(EVENTS)
    finally:
        graph.close()
    yield os.environ["IDGRAPH_STORE"]


@pytest.fixture
def shop_file(tmp_path: Path) -> Path:
    """The shop's export holding the rows, as it would be sent again."""
    path = tmp_path / "shop.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        writer.writerows({"at": RECENT, **row} for row in ROWS)
    return path


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    """The packaged rules with events kept 365 days."""
    text = resources.files("identity").joinpath("config/rules.toml").read_text("utf-8")
    assert "\n[events]\n" in text
    path = tmp_path / "rules.toml"
    path.write_text(text.replace("\n[events]\n", "\n[events]\nretention_days = 365\n"), "utf-8")
    return path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def said(result: Result) -> str:
    return " ".join(result.output.split())


def refused(*args: str) -> str:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    return said(result)


class Store:
    """What the store holds now, read as the CLI opens it."""

    def __enter__(self) -> Store:
        self.graph = Settings().open_graph(None, None)
        return self

    def __exit__(self, *_: object) -> None:
        self.graph.close()

    def keys(self) -> set[str]:
        refs = [RecordRef("shop", str(row["id"])) for row in ROWS]
        return {ref.key for ref in self.graph.store.records.ids(refs)}

    def profile(self, key: str) -> str:
        ref = RecordRef("shop", key)
        rid = self.graph.store.records.ids([ref])[ref]
        return self.graph.store.profiles.ids_of([rid])[rid]

    def events(self) -> set[str]:
        found = self.graph.store.events.of_profiles([self.profile("bob-1")])
        return {e.event_id for events in found.values() for e in events}


ALL_KEYS = {str(row["id"]) for row in ROWS}


def test_erase_with_yes_deletes_the_person_and_says_what_it_erased(store_url: str) -> None:
    with Store() as store:
        ann = store.profile("ann-1")

    result = invoke(
        "erase", "--identifier", "email:ANN.LEE@example.com", "--reason", "DSAR 1", "--yes"
    )

    assert result.exit_code == 0, result.output
    text = said(result)
    assert f"to erase: profile {ann} with 2 records and 0 events" in text
    assert f"erased profile {ann}: 2 records, 0 events;" in text
    # Her two records, her e-mail and her customer number; not the phone Bob still uses.
    assert "4 entries on the suppression list" in text
    with Store() as store:
        assert store.keys() == ALL_KEYS - {"ann-1", "ann-2"}
        assert store.graph.store.profiles.resolve([ann]) == {}


def test_erase_by_profile_erases_that_profile(store_url: str) -> None:
    with Store() as store:
        bob = store.profile("bob-1")

    result = invoke("erase", "--profile", bob, "--reason", "DSAR 2", "-y")

    assert result.exit_code == 0, result.output
    assert f"erased profile {bob}: 1 records, 2 events;" in said(result)
    with Store() as store:
        assert store.keys() == ALL_KEYS - {"bob-1"}


def test_erase_without_yes_on_a_pipe_refuses_naming_yes_and_deletes_nothing(
    store_url: str,
) -> None:
    text = refused("erase", "--identifier", "email:ann.lee@example.com", "--reason", "DSAR 3")

    assert "--yes" in text and "cannot be undone" in text
    with Store() as store:
        assert store.keys() == ALL_KEYS
        assert store.graph.erasure.suppressions() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--identifier", "ann.lee@example.com"],
            "--identifier 'ann.lee@example.com': not KIND:VALUE",
        ),
        (["--identifier", "email:"], "--identifier 'email:': not KIND:VALUE"),
        (["--profile", "p_nobody"], "--profile 'p_nobody': no such profile"),
        (
            ["--identifier", "email:nobody@example.com"],
            "--identifier 'email:nobody@example.com': no profile holds it",
        ),
        (
            ["--identifier", "phone:+447400100001"],
            "--identifier 'phone:+447400100001': this phone belongs to 2 profiles; "
            "name each with --profile ID",
        ),
        (
            ["--identifier", "shoe_size:42"],
            "--identifier 'shoe_size:42': unknown identifier kind 'shoe_size'",
        ),
        (
            ["--identifier", "email:not an address"],
            "--identifier 'email:not an address': An email address must have an @-sign",
        ),
        # A known person with an unknown profile: all or nothing.
        (
            ["--identifier", "email:bob@example.com", "--profile", "p_nobody"],
            "--profile 'p_nobody': no such profile",
        ),
        ([], "--identifier / --profile: name the person by at least one"),
        (["--profile", "p_nobody", "--reason", " "], "--reason ' ': give the request"),
    ],
    ids=[
        "not-kind-value",
        "empty-value",
        "unknown-profile",
        "unknown-identifier",
        "ambiguous",
        "unknown-kind",
        "invalid-email",
        "one-unknown",
        "nothing-named",
        "blank-reason",
    ],
)
def test_erase_refuses_bad_input_naming_the_option_and_the_value(
    store_url: str, args: list[str], message: str
) -> None:
    reason = [] if "--reason" in args else ["--reason", "DSAR 4"]

    assert message in refused("erase", *args, *reason, "--yes")

    with Store() as store:
        assert store.keys() == ALL_KEYS
        assert store.graph.erasure.suppressions() == []


def test_suppression_list_shows_hash_kind_and_erasure_never_the_value(store_url: str) -> None:
    erased = invoke("erase", "--identifier", "customer_id:C1", "--reason", "DSAR 5", "--yes")
    assert erased.exit_code == 0, erased.output
    with Store() as store:
        entries = store.graph.erasure.suppressions()
    assert len(entries) == 4

    result = CliRunner().invoke(app, ["suppression", "list"], terminal_width=200)

    assert result.exit_code == 0, result.output
    lines = [" ".join(line.split()) for line in result.output.splitlines()]
    for entry in entries:
        row = next((line for line in lines if entry.hash in line), None)
        assert row is not None, (entry.hash, result.output)
        assert entry.kind in row and str(entry.audit_id) in row
    assert sorted(e.kind for e in entries) == ["customer_id", "email", "record", "record"]
    assert "4 entries" in said(result)
    rest = result.output.lower()
    for entry in entries:
        rest = rest.replace(entry.hash, "")
    assert "ann" not in rest and "c1" not in rest and "@" not in rest
    limited = invoke("suppression", "list", "--limit", "1")
    assert "1 entries" in said(limited)


def test_suppression_list_prints_whole_hashes_on_a_narrow_terminal(store_url: str) -> None:
    invoke("erase", "--identifier", "customer_id:C1", "--reason", "DSAR 6", "--yes")
    with Store() as store:
        hashes = [e.hash for e in store.graph.erasure.suppressions()]

    result = CliRunner().invoke(app, ["suppression", "list"], terminal_width=80)

    assert result.exit_code == 0, result.output
    assert all(h in result.output for h in hashes), result.output


def test_lifting_an_erasures_entries_lets_the_same_file_bring_the_person_back(
    store_url: str, shop_file: Path
) -> None:
    erased = invoke("erase", "--identifier", "email:ann.lee@example.com", "--reason", "x", "-y")
    assert erased.exit_code == 0, erased.output
    kept_out = invoke("ingest", str(shop_file), "--source", "shop")
    assert kept_out.exit_code == 0, kept_out.output
    assert "2 records of erased people dropped, not stored" in said(kept_out)
    with Store() as store:
        assert store.keys() == ALL_KEYS - {"ann-1", "ann-2"}
        [audit_id] = {e.audit_id for e in store.graph.erasure.suppressions()}

    result = invoke(
        "suppression", "remove", "--erasure", str(audit_id), "--reason", "erased by mistake"
    )

    assert result.exit_code == 0, result.output
    assert "4 entries taken off the suppression list" in said(result)
    again = invoke("ingest", str(shop_file), "--source", "shop")
    assert again.exit_code == 0, again.output
    with Store() as store:
        assert store.keys() == ALL_KEYS
        assert store.profile("ann-1") == store.profile("ann-2")
        assert store.graph.erasure.suppressions() == []


def test_suppression_remove_refuses_bad_input(store_url: str) -> None:
    assert "--identifier / --hash / --erasure: name at least one entry" in refused(
        "suppression", "remove", "--reason", "x"
    )
    assert "--reason ' ':" in refused("suppression", "remove", "--erasure", "1", "--reason", " ")
    assert "--identifier 'shoe_size:42': unknown identifier kind" in refused(
        "suppression", "remove", "--identifier", "shoe_size:42", "--reason", "x"
    )


def test_retention_dry_run_counts_what_is_past_its_period_and_deletes_nothing(
    store_url: str, rules_file: Path
) -> None:
    result = invoke("retention", "apply", "--dry-run", "--rules", str(rules_file))

    assert result.exit_code == 0, result.output
    text = said(result)
    assert "shop: records kept 365 days" in text and "events: kept 365 days" in text
    assert "would delete: records 2 of shop; 1 events" in text
    with Store() as store:
        assert store.keys() == ALL_KEYS
        assert store.events() == {"bob-old", "bob-new"}


def test_retention_deletes_old_records_and_events_and_profiles_re_resolve(
    store_url: str, rules_file: Path
) -> None:
    with Store() as store:
        dan, eve = store.profile("dan-1"), store.profile("eve-2")
        assert store.profile("eve-1") == eve

    result = invoke("retention", "apply", "--rules", str(rules_file))

    assert result.exit_code == 0, result.output
    assert "deleted: records 2 of shop; 1 events; 1 profiles deleted" in said(result)
    with Store() as store:
        assert store.keys() == ALL_KEYS - {"dan-1", "eve-1"}
        # Dan's only record went, and his profile with it; Eve keeps her young record.
        assert store.graph.store.profiles.resolve([dan]) == {}
        assert store.profile("eve-2") == eve
        assert store.events() == {"bob-new"}
        [entry] = store.graph.store.audit.entries(action="retention")
        assert entry.entry.after["records"] == {"shop": 2}
    # Nothing is left to delete, and nothing went on the suppression list.
    again = invoke("retention", "apply", "--rules", str(rules_file))
    assert "deleted: records none; 0 events" in said(again)
    with Store() as store:
        assert store.graph.erasure.suppressions() == []


def test_retention_without_periods_says_how_to_set_one(store_url: str) -> None:
    with Store() as store:
        store.graph.ingest.register_source(
            SourceMapping.from_document(
                {k: v for k, v in SHOP.items() if k != "retention_days"}, rules=store.graph.rules
            )
        )

    result = invoke("retention", "apply")

    assert result.exit_code == 0, result.output
    assert "no retention period is set" in said(result)
    with Store() as store:
        assert store.keys() == ALL_KEYS


def test_remove_identifier_takes_it_off_the_profile(store_url: str, shop_file: Path) -> None:
    with Store() as store:
        eve = store.profile("eve-2")

    result = invoke(
        "remove-identifier",
        "--profile",
        eve,
        "--identifier",
        "phone:+447400500005",
        "--reason",
        "ticket 9",
    )

    assert result.exit_code == 0, result.output
    assert f"removed from 1 records; they are in profile {eve}" in said(result)
    with Store() as store:
        holders = store.graph.profiles.by_identifier("phone", "+447400500005")
        assert holders == []
        assert store.profile("eve-1") == store.profile("eve-2") == eve
    # The same file again leaves it out.
    assert invoke("ingest", str(shop_file), "--source", "shop").exit_code == 0
    with Store() as store:
        assert store.graph.profiles.by_identifier("phone", "+447400500005") == []


def test_remove_identifier_refuses_bad_input_and_changes_nothing(store_url: str) -> None:
    with Store() as store:
        eve = store.profile("eve-2")

    def remove(profile: str, identifier: str, reason: str = "ticket") -> str:
        return refused(
            "remove-identifier",
            "--profile",
            profile,
            "--identifier",
            identifier,
            "--reason",
            reason,
        )

    assert "--identifier 'email:ann.lee@example.com': profile" in remove(
        eve, "email:ann.lee@example.com"
    )
    assert "holds no such email" in remove(eve, "email:ann.lee@example.com")
    assert "--profile 'p_nobody': no such profile" in remove("p_nobody", "email:eve@example.com")
    assert "--identifier 'eve': not KIND:VALUE" in remove(eve, "eve")
    assert "--identifier 'shoe_size:42': unknown identifier kind" in remove(eve, "shoe_size:42")
    assert "--reason ' ':" in remove(eve, "email:eve@example.com", " ")
    with Store() as store:
        assert store.graph.store.audit.entries(action="remove-identifier") == []
        assert [p.id for p in store.graph.profiles.by_identifier("email", "eve@example.com")] == [
            eve
        ]
