"""A source that writes a person's name in one field (a mapping's ``full_name``) is matched
against the first and last names of the others: blocked by the full name's words, compared
word by word, in batch and in real time alike."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from identity.demo.generator import DemoFiles, generate
from identity.evaluation import load_assignment
from identity.graph import IdentityGraph
from identity.mapping import SourceMapping
from identity.matching.matcher import MODEL_KEY, STAMP_KEY
from identity.matching.search import SearchCriteria
from identity.model import JSONValue, LinkType
from identity.rules import load_rules
from identity.store.factory import open_store
from tests.identity.test_realtime import Rows, links_by_ref, open_graph, partition, rows_of

LEGACY = {
    "source": "legacy",
    "key": "ref",
    "priority": 10,
    "attributes": {
        "name": {"name": "full_name", "type": "name"},
        "dob": {"name": "birth_date", "type": "date", "format": "%d/%m/%Y"},
        "postcode": "postcode",
    },
}


def written(first: str, last: str, style: int) -> str:
    """A name as old systems and forms write it in one field."""
    return (
        f"{first} {last}",
        f"{last.upper()}, {first}",
        f"Mr {first[0]}. {last}",
        f"{first.upper()} {last.upper()}",
    )[style % 4]


def legacy_rows(files: DemoFiles) -> tuple[list[tuple[int, dict[str, JSONValue]]], dict[str, str]]:
    """One legacy row per CRM customer with a name, birth date and postcode (no identifier
    at all, so only the probabilistic matcher can join it), and the person of each."""
    truth = load_assignment(files.truth)
    rows: list[tuple[int, dict[str, JSONValue]]] = []
    person: dict[str, str] = {}
    with files.files["crm"].open(newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=1):
            first, last = row["first_name"].strip(), row["last_name"].strip()
            if not (first and last and row["birth_date"] and row["postcode"]):
                continue
            ref = f"L{number}"
            name = written(first, last, number)
            rows.append((len(rows) + 1, {"ref": ref, "name": name, "dob": row["birth_date"],
                                         "postcode": row["postcode"]}))  # fmt: skip
            person[ref] = truth[("crm", row["customer_no"])]
    return rows, person


@pytest.fixture(scope="module")
def stores(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[IdentityGraph, IdentityGraph, dict[str, str], dict[tuple[str, str], str]]:
    tmp = tmp_path_factory.mktemp("full-names")
    files = generate(tmp / "demo", people=200, seed=5)
    legacy, person = legacy_rows(files)

    def opened(path: Path) -> IdentityGraph:
        graph = open_graph(path, files)
        graph.ingest.register_source(SourceMapping.from_document(LEGACY, rules=graph.rules))
        return graph

    batch = opened(tmp / "batch.db")
    rows: Rows = rows_of(batch, files) + [("legacy", n, r) for n, r in legacy]
    for source in sorted({s for s, _, _ in rows}):
        batch.ingest.ingest_rows(source, [(n, r) for s, n, r in rows if s == source])
    matcher = batch.probabilistic()
    matcher.train()
    matcher.link_all()

    realtime = opened(tmp / "realtime.db")
    for key in (MODEL_KEY, STAMP_KEY):
        realtime.store.meta.set(key, batch.store.meta.get(key))
    random.Random(8).shuffle(rows)
    for source, number, row in rows:
        report = realtime.ingest.ingest_rows(source, [(number, row)])
        assert report.accepted == 1 and report.probabilistic_skipped is None
    return batch, realtime, person, dict(load_assignment(files.truth))


def test_records_with_only_a_full_name_join_their_person(
    stores: tuple[IdentityGraph, IdentityGraph, dict[str, str], dict[tuple[str, str], str]],
) -> None:
    batch, _, person, truth = stores
    profiles = {ref: pid for ref, pid in batch.store.records.scan_profiles()}
    members: dict[str | None, set[str]] = {}
    for ref, pid in profiles.items():
        entity = person[ref.key] if ref.source == "legacy" else truth[(ref.source, ref.key)]
        members.setdefault(pid, set()).add(entity)
    joined = [
        ref
        for ref, pid in profiles.items()
        if ref.source == "legacy"
        and sum(1 for other, p in profiles.items() if p == pid and other.source != "legacy")
    ]
    # Every style is found, "SMITH, John" and "Mr J. Smith" included, and no profile holding
    # a legacy record holds two people.
    assert len(joined) >= 0.9 * len(person), (len(joined), len(person))
    assert all(len(members[profiles[ref]]) == 1 for ref in joined)
    styles = {int(ref.key[1:]) % 4 for ref in joined}
    assert styles == {0, 1, 2, 3}


def test_a_full_name_is_explained_as_its_own_field(
    stores: tuple[IdentityGraph, IdentityGraph, dict[str, str], dict[tuple[str, str], str]],
) -> None:
    batch, _, _, _ = stores
    links = list(links_by_ref(batch).items())
    legacy = [(pair, link) for pair, link in links if "legacy" in {pair[0].source, pair[1].source}]
    levels = {
        link.evidence["fields"]["full_name"]["level"]  # type: ignore[index]
        for _, link in legacy
        if link.type is LinkType.MATCH
    }
    assert {"exact", "initial"} <= levels
    # Two records with a first and a last name are compared by those alone.
    others = [link for pair, link in links if "legacy" not in {pair[0].source, pair[1].source}]
    assert others
    assert all(link.evidence["fields"]["full_name"]["level"] == "missing" for link in others)  # type: ignore[index]


def test_real_time_gives_full_names_the_links_of_a_batch_run(
    stores: tuple[IdentityGraph, IdentityGraph, dict[str, str], dict[tuple[str, str], str]],
) -> None:
    batch, realtime, _, _ = stores
    expected, found = links_by_ref(batch), links_by_ref(realtime)
    assert any("legacy" in {a.source, b.source} for a, b in expected)
    assert found.keys() == expected.keys()
    for pair, link in expected.items():
        assert found[pair].type is link.type, pair
        assert found[pair].evidence == link.evidence, pair
    assert partition(realtime) == partition(batch)


def test_a_search_by_name_finds_a_record_that_has_only_a_full_name() -> None:
    graph = IdentityGraph(open_store("sqlite:///:memory:"), load_rules())
    graph.ingest.register_source(SourceMapping.from_document(LEGACY, rules=graph.rules))
    rows: list[tuple[int, dict[str, JSONValue]]] = [
        (1, {"ref": "L1", "name": "SMITH, Mr John", "postcode": "LS1 4AP"}),
        (2, {"ref": "L2", "name": "Jane Smith", "postcode": "LS1 4AP"}),
    ]
    graph.ingest.ingest_rows("legacy", rows)
    page = graph.search.search(SearchCriteria(name="John Smith", postcode="LS1 4AP"))
    assert page.hits[0].record.key == "L1"
    fields = {f.field: f.level for f in page.hits[0].fields}
    assert fields["full_name"] == "exact"
    # Jane is found under the same surname, and her first name disagrees.
    assert {f.field: f.level for f in page.hits[1].fields}["full_name"] == "else"
    graph.close()
