"""Profile search in the domain: how names and dates are read, that candidates come from
index lookups and are weighed exactly as the matcher weighs a pair, and how often a person
searched by name and postcode is found first on generated people with known truth."""

from __future__ import annotations

import csv
import random
from collections import Counter
from dataclasses import dataclass

import pandas as pd
import pytest

from identity.demo.generator import generate
from identity.errors import InvalidArgument
from identity.evaluation import load_assignment
from identity.graph import IdentityGraph
from identity.mapping import load_mapping
from identity.matching.linker import Linker
from identity.matching.search import (
    Ranking,
    SearchCriteria,
    SearchPage,
    birth_date_readings,
    name_readings,
)
from identity.model import RecordRef
from identity.readers import read_file

SAMPLE = 300
RANK_ONE_AT_LEAST = 0.97
"""The bar for name + postcode, below what was measured (1.0 on this data, 0.999 on 10,000
generated people): a regression fails it, the generator's noise does not."""


# -- reading the criteria ----------------------------------------------------------------------


def test_a_comma_puts_the_surname_first() -> None:
    assert name_readings("Smith, John") == [("John", "Smith")]
    assert name_readings("Smith,John Paul") == [("John Paul", "Smith"), ("John", "Smith")]


def test_a_name_without_comma_is_read_at_every_split_given_names_first() -> None:
    assert name_readings("Jon Smith") == [("Jon", "Smith"), ("Smith", "Jon")]
    assert name_readings("Dr. Mary Ann Smith Jr") == [
        ("Mary", "Ann Smith"),
        ("Mary Ann", "Smith"),
        ("Mary", "Smith"),
        ("Ann Smith", "Mary"),
        ("Smith", "Mary Ann"),
    ]
    assert name_readings("Smith") == [(None, "Smith"), ("Smith", None)]


def test_a_name_of_titles_alone_is_refused() -> None:
    with pytest.raises(InvalidArgument, match=r"^name:") as error:
        name_readings("Mrs, Dr")
    assert error.value.argument == "name"


@pytest.mark.parametrize(
    ("typed", "readings"),
    [
        ("1980-03-14", ["1980-03-14"]),
        ("1980/3/14", ["1980-03-14"]),
        ("19800314", ["1980-03-14"]),
        ("14/03/1980", ["1980-03-14"]),
        ("14.3.1980", ["1980-03-14"]),
        ("03/14/1980", ["1980-03-14"]),  # only month first is a date
        ("04/05/1980", ["1980-05-04"]),  # day first; day_month_swapped credits the other
        ("14 March 1980", ["1980-03-14"]),
        ("14th Mar. 1980", ["1980-03-14"]),
        ("March 14, 1980", ["1980-03-14"]),
        ("sept 4 1980", ["1980-09-04"]),
    ],
)
def test_birth_dates_are_read_in_common_formats(typed: str, readings: list[str]) -> None:
    assert birth_date_readings(typed) == readings


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("31/02/1980", "not a date"),
        ("1980-13-01", "not a date"),
        ("yesterday", "not a date"),
        ("14/03/80", "year in full"),
    ],
)
def test_a_birth_date_that_cannot_be_read_names_the_argument(typed: str, problem: str) -> None:
    with pytest.raises(InvalidArgument, match=f"^birthDate: .*{problem}") as error:
        birth_date_readings(typed)
    assert error.value.argument == "birthDate"


# -- on generated people -----------------------------------------------------------------------


@dataclass
class Demo:
    graph: IdentityGraph
    truth: dict[tuple[str, str], str]
    crm: list[dict[str, str]]
    untrained: list[SearchPage]
    """The sample searched before the model was trained (deterministic profiles)."""
    untrained_profiles: dict[RecordRef, str | None]


def by_name_and_postcode(row: dict[str, str]) -> SearchCriteria:
    return SearchCriteria(
        name=f"{row['first_name']} {row['last_name']}", postcode=row["postcode"] or None
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    tmp = tmp_path_factory.mktemp("search")
    files = generate(tmp / "demo", people=1000, seed=3)
    graph = IdentityGraph.open(f"sqlite:///{tmp / 'store.db'}")
    for path in sorted(files.mappings_dir.glob("*.toml")):
        graph.ingest.register_source(load_mapping(path, rules=graph.rules))
    for source, path in sorted(files.files.items()):
        graph.ingest.ingest_rows(source, read_file(path, graph.ingest.source(source).format))
    with files.files["crm"].open(encoding="utf-8") as handle:
        crm = random.Random(1).sample(list(csv.DictReader(handle)), SAMPLE)
    untrained = [graph.search.search(by_name_and_postcode(row), first=3) for row in crm]
    profiles = dict(graph.store.records.scan_profiles())
    matcher = graph.probabilistic()
    matcher.train()
    matcher.link_all()
    return Demo(graph, load_assignment(files.truth), crm, untrained, profiles)


def rank_one_rate(
    demo: Demo, pages: list[SearchPage], profiles: dict[RecordRef, str | None]
) -> float:
    """The share of searches whose first profile is the person's own: most of its records
    are theirs (a person split over two profiles is found in either)."""
    members: dict[str | None, list[str]] = {}
    for ref, pid in profiles.items():
        members.setdefault(pid, []).append(demo.truth[(ref.source, ref.key)])
    found = 0
    for row, page in zip(demo.crm, pages, strict=True):
        person = demo.truth[("crm", row["customer_no"])]
        if page.hits:
            top = page.hits[0].profile_id
            found += Counter(members[top]).most_common(1)[0][0] == person
    return found / len(pages)


def test_a_person_searched_by_crm_name_and_postcode_is_found_first(demo: Demo) -> None:
    pages = [demo.graph.search.search(by_name_and_postcode(row), first=3) for row in demo.crm]
    assert {page.ranking for page in pages} == {Ranking.MATCH_MODEL}
    rate = rank_one_rate(demo, pages, dict(demo.graph.store.records.scan_profiles()))
    print(f"rank-1 rate, model, name + postcode, {SAMPLE} people: {rate:.4f}")
    assert rate >= RANK_ONE_AT_LEAST


def test_without_a_model_comparison_levels_rank_and_still_find_the_person_first(
    demo: Demo,
) -> None:
    assert {page.ranking for page in demo.untrained} == {Ranking.COMPARISON_LEVELS}
    assert all("idgraph train" in page.notes[0] for page in demo.untrained)
    assert all(hit.probability is None for page in demo.untrained for hit in page.hits)
    rate = rank_one_rate(demo, demo.untrained, demo.untrained_profiles)
    print(f"rank-1 rate, comparison levels, name + postcode, {SAMPLE} people: {rate:.4f}")
    assert rate >= RANK_ONE_AT_LEAST


def test_each_field_is_weighed_as_the_matcher_weighs_the_same_pair(demo: Demo) -> None:
    """The hit's levels and weights equal what the matcher's own Linker and model give the
    pair (searched values, record's values), and the score adds them up."""
    graph = demo.graph
    matcher = graph.probabilistic()
    model, _ = matcher.current_model()
    assert model is not None
    linker = Linker(matcher.settings, model)
    names = [c.field for c in matcher.settings.comparisons]
    checked = 0
    for row in demo.crm[:40]:
        criteria = SearchCriteria(
            name=f"{row['last_name']}, {row['first_name']}",
            birth_date=row["birth_date"] or None,
            phone=row["mobile"] or None,
        )
        for hit in graph.search.search(criteria, first=5).hits:
            rid = graph.store.records.ids([hit.record])[hit.record]
            (stored,) = graph.store.matching.rows_of([rid])
            searched = {f.field: f.searched for f in hit.fields}
            probe = {name: searched.get(name) for name in names}
            record = {name: stored.fields.get(name) for name in names}
            for f in hit.fields:
                if f.level == "exact":
                    record[f.field] = f.found  # a searched phone among the record's phones
            frame = pd.DataFrame([probe, record], index=pd.Index([1, 2], name="id"))
            vectors, _ = linker.compare(pd.MultiIndex.from_tuples([(1, 2)]), frame)
            score = model.score(vectors[0].tolist(), [probe[name] for name in names])
            expected = {c.comparison: c for c in score.contributions}
            for f in hit.fields:
                assert (f.level, f.weight) == (
                    expected[f.field].level,
                    expected[f.field].weight,
                ), (hit, f)
            assert hit.score == score.weight
            checked += 1
    assert checked > 40


def test_a_search_reads_through_indexes_a_fixed_number_of_statements(demo: Demo) -> None:
    """Never a scan of the records or the index, and no statement per candidate."""
    store = demo.graph.store
    row = demo.crm[0]
    criteria = SearchCriteria(
        name=f"{row['first_name']} {row['last_name']}",
        postcode=row["postcode"] or None,
        email=row["email"] or None,
    )
    before = store.statements_per_operation()
    page = demo.graph.search.search(criteria, first=20)
    after = store.statements_per_operation()
    sent = {op: n - before.get(op, 0) for op, n in after.items() if n - before.get(op, 0)}
    assert page.total >= 1
    scans = {op for op in sent if op.startswith("copy.") or op.split(".")[-1].startswith("scan")}
    assert not scans, sent
    assert sum(sent.values()) <= 12, sent


def test_no_criterion_and_bad_page_sizes_are_refused_naming_the_argument(demo: Demo) -> None:
    search = demo.graph.search.search
    with pytest.raises(InvalidArgument, match="name, postcode, birthDate, email, phone"):
        search(SearchCriteria(name="  ", postcode=""))
    for first in (0, 101):
        with pytest.raises(InvalidArgument, match=r"^first must be between 1 and 100") as error:
            search(SearchCriteria(name="Ann Lee"), first=first)
        assert error.value.argument == "first"


def test_criteria_that_no_blocking_rule_can_use_say_what_would(demo: Demo) -> None:
    with pytest.raises(InvalidArgument) as error:
        demo.graph.search.search(SearchCriteria(postcode="SW1A 1AA", birth_date="1980-03-14"))
    message = str(error.value)
    assert message.startswith("postcode, birthDate: these criteria find no candidates")
    assert "a last name (in name) and a first name (in name)" in message
    assert "postcode and a last name (in name)" in message
