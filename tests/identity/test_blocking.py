"""Blocking: exact rules, sorted neighbourhoods and the cap on oversized blocks, in batch
(recordlinkage's indexers) and for records arriving one at a time (the match index)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import recordlinkage

from identity.errors import ConfigError
from identity.graph import IdentityGraph
from identity.mapping import SourceMapping
from identity.matching.index import MatchIndex
from identity.matching.linker import LinkageSettings, Linker
from identity.model import Identifier, RecordId, RecordRef, SourceRecord
from identity.rules import Rules, SortedNeighbourhoodRule, load_rules
from identity.store.sqlite import SQLiteStore

FIELDS = {"first_name": "first_name", "last_name": "name", "birth_date": "date"}


def people(rows: list[tuple[str, str, str | None]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["first_name", "last_name", "birth_date"])
    frame.index = pd.Index(range(1, len(rows) + 1), name="id")
    return frame.astype(object).where(frame.notna(), None)


def pairs_of(linker: Linker, frame: pd.DataFrame) -> set[tuple[int, int]]:
    found = linker.candidate_pairs(frame)
    return {(int(a), int(b)) for a, b in found}


TYPO = people(
    [
        ("maria", "johnson", "1980-03-02"),
        ("maria", "johnsen", "1980-02-03"),  # surname typo, day and month swapped
        ("peter", "adams", "1971-07-07"),
        ("anna", "zimmer", "1990-01-01"),
    ]
)


def test_a_sorted_neighbourhood_finds_the_typo_pair_that_exact_blocking_misses() -> None:
    exact = Linker(LinkageSettings.build(FIELDS, [["last_name"], ["birth_date"]]))
    assert (2, 1) not in pairs_of(exact, TYPO) and (1, 2) not in pairs_of(exact, TYPO)

    rule = SortedNeighbourhoodRule("last_name", window=3, block_on=("first_name:first2",))
    neighbours = Linker(LinkageSettings.build(FIELDS, [["birth_date"], rule]))
    found = pairs_of(neighbours, TYPO)
    assert found == {(2, 1)}  # the later record first, as recordlinkage's dedup gives it


def test_a_sorted_neighbourhood_gives_recordlinkages_pairs() -> None:
    rng = np.random.default_rng(3)
    names = ["adams", "adamson", "baker", "bakker", "carter", "cartier", "dale", None]
    frame = people(
        [
            (str(rng.choice(["ann", "bob"])), names[int(rng.integers(len(names)))], None)
            for _ in range(60)
        ]
    )
    rule = SortedNeighbourhoodRule("last_name", window=5)
    ours = pairs_of(Linker(LinkageSettings.build(FIELDS, [rule])), frame)
    indexer = recordlinkage.index.SortedNeighbourhood(left_on="last_name", window=5)
    theirs = {(int(a), int(b)) for a, b in indexer.index(frame)}
    assert ours == theirs and ours


def test_a_sorted_neighbourhood_links_two_frames_across() -> None:
    left = people([("maria", "johnson", None), ("peter", "adams", None)])
    right = people([("maria", "johnsen", None), ("zoe", "young", None)])
    rule = SortedNeighbourhoodRule("last_name", window=3, block_on=("first_name",))
    found = Linker(LinkageSettings.build(FIELDS, [rule])).candidate_pairs(left, right)
    assert {(int(a), int(b)) for a, b in found} == {(1, 1)}


def test_a_key_held_by_more_records_than_the_cap_gives_no_candidates_and_is_reported() -> None:
    shop = [("ann", "lee", "2000-01-01")] * 4 + [("bob", "ray", "1999-09-09")] * 2
    frame = people(shop)
    linker = Linker(LinkageSettings.build(FIELDS, [["birth_date"]], max_block_size=3))
    assert pairs_of(linker, frame) == {(6, 5)}
    capped = linker.oversized_keys(frame)
    assert (capped.keys, capped.records, capped.largest) == (1, 4, [(4, "0:2000-01-01")])
    # Two frames count together: 2 + 2 holders is over a cap of 3.
    left, right = people(shop[:2]), people(shop[2:4])
    assert len(linker.candidate_pairs(left, right)) == 0


def test_training_with_a_sorted_neighbourhood_rule_leaves_its_fields_out_of_its_em() -> None:
    rule = SortedNeighbourhoodRule("last_name", window=3)
    linker = Linker(LinkageSettings.build(FIELDS, [rule, ["birth_date"]]))
    model = linker.train(TYPO)
    assert model.trained_on["candidate_pairs"] == len(linker.candidate_pairs(TYPO))
    assert model.trained_on["oversized_blocking_keys"] == 0


def matching_doc(**changes: Any) -> dict[str, Any]:
    return {
        "kinds": {"email": {"normaliser": "email"}},
        "matching": {"fields": {"last_name": "name"}, "blocking": [["last_name"]], **changes},
    }


def test_sorted_neighbourhood_rules_load_from_the_rules_file() -> None:
    rules = Rules.from_document(
        matching_doc(
            blocking=[
                ["last_name"],
                {"sorted_neighbourhood": "last_name:sound", "window": 5, "block_on": ["x"]},
            ],
            max_block_size=50,
        )
    )
    assert rules.matching is not None
    assert rules.matching.blocking[1] == SortedNeighbourhoodRule("last_name:sound", 5, ("x",))
    assert rules.matching.max_block_size == 50
    assert load_rules().matching is not None and load_rules().matching.max_block_size == 2000


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"sorted_neighbourhood": "last_name", "window": 4}, r"matching\.blocking\[2\]\.window"),
        ({"sorted_neighbourhood": "last_name", "window": 0}, r"matching\.blocking\[2\]\.window"),
        ({"window": 3}, r"matching\.blocking\[2\]\.sorted_neighbourhood"),
        ({"sorted_neighbourhood": "last_name", "widow": 3}, r"matching\.blocking\[2\]\.widow"),
        ({"sorted_neighbourhood": "a", "block_on": "b"}, r"matching\.blocking\[2\]\.block_on"),
        ("last_name", r"matching\.blocking\[2\]"),
    ],
)
def test_a_bad_sorted_neighbourhood_rule_is_refused_naming_the_field(
    rule: object, field: str
) -> None:
    with pytest.raises(ConfigError, match=field):
        Rules.from_document(matching_doc(blocking=[["last_name"], rule]))


def test_a_bad_block_size_cap_is_refused_naming_the_field() -> None:
    with pytest.raises(ConfigError, match=r"matching\.max_block_size"):
        Rules.from_document(matching_doc(max_block_size=0))


def test_a_sorted_neighbourhood_key_must_name_a_compared_field() -> None:
    rule = SortedNeighbourhoodRule("surname", window=3)
    with pytest.raises(ConfigError, match="blocking key 'surname'"):
        LinkageSettings.build(FIELDS, [rule])


# -- real time -----------------------------------------------------------------------------

MAPPING = {
    "source": "crm",
    "format": "csv",
    "key": "id",
    "identifiers": {"email": "email"},
    "attributes": {
        "first_name": "first_name",
        "last_name": "last_name",
        "birth_date": "birth_date",
    },
}


def small_graph(blocking: list[Any], max_block_size: int = 1000) -> IdentityGraph:
    doc = {
        "kinds": {"email": {"normaliser": "email", "priority": 80}},
        "matching": {
            "fields": dict(FIELDS),
            "blocking": blocking,
            "max_block_size": max_block_size,
            "link_threshold": 0.9,
            "review_threshold": 0.5,
        },
    }
    graph = IdentityGraph(SQLiteStore(":memory:"), Rules.from_document(doc))
    graph.ingest.register_source(SourceMapping.from_document(MAPPING, rules=graph.rules))
    return graph


def row(key: int, first: str, last: str, born: str) -> tuple[int, dict[str, Any]]:
    email = f"{first}.{last}.{key}@example.com"
    return key, {
        "id": str(key),
        "first_name": first,
        "last_name": last,
        "birth_date": born,
        "email": email,
    }


ROWS = [
    row(i, *p)
    for i, p in enumerate(
        [
            ("maria", "johnson", "1980-03-02"),
            ("maria", "johnsen", "1980-03-02"),
            ("maria", "johnson", "1980-03-02"),
            ("peter", "adams", "1971-07-07"),
            ("anna", "zimmer", "1990-01-01"),
            ("lena", "zimmer", "1991-02-02"),
        ],
        start=1,
    )
]


def stored(graph: IdentityGraph, key: str) -> tuple[RecordId, SourceRecord]:
    ref = RecordRef("crm", key)
    rid = graph.store.records.ids([ref])[ref]
    return rid, graph.store.records.get([rid])[rid].record


def test_in_real_time_a_sorted_neighbourhood_meets_its_own_key_and_batch_the_neighbours() -> None:
    rule = {"sorted_neighbourhood": "last_name", "window": 3, "block_on": ["first_name:first2"]}
    graph = small_graph([rule, ["birth_date"]], max_block_size=2)
    graph.ingest.ingest_rows("crm", ROWS)
    matcher = graph.probabilistic()
    matcher.train()
    first, johnsen = stored(graph, "1"), stored(graph, "2")
    with graph.store.unit_of_work():
        found = matcher.link_records([first])
    # Maria Johnson (1) meets the other Maria Johnson (3) through the index; the shared
    # birth date is held by three records, over the cap of two, and gives no candidates.
    assert (found.candidate_pairs, found.oversized_keys) == (1, 1)
    # The neighbour with the surname typo (2) is found by the batch path.
    batch = Linker(matcher.settings).candidate_pairs(matcher.all_frame())
    pairs = {(int(a), int(b)) for a, b in batch}
    assert (johnsen[0], first[0]) in pairs and len(pairs) == 3


# -- what records carry: an initial, an e-mail's local part ----------------------------------


def packaged_pairs(
    records: list[SourceRecord],
) -> tuple[Linker, pd.DataFrame, set[tuple[int, int]]]:
    """The candidate pairs the packaged rules give these records, through the match index
    that derives each record's compared values as ingest does."""
    rules = load_rules()
    assert rules.matching is not None
    settings = LinkageSettings.build(dict(rules.matching.fields), rules.matching.blocking)
    index = MatchIndex(SQLiteStore(":memory:"), rules, settings)
    frame = index.frame(index.row_of(RecordId(n), r) for n, r in enumerate(records, start=1))
    linker = Linker(settings)
    return linker, frame, pairs_of(linker, frame)


def person(
    source: str, first: str | None, last: str | None, email: str | None = None
) -> SourceRecord:
    attributes = {k: v for k, v in (("first_name", first), ("last_name", last)) if v}
    emails = (Identifier("email", email, email),) if email else ()
    return SourceRecord(source, f"{source}-{first}-{last}-{email}", emails, attributes)


def test_an_e_mail_only_record_meets_the_same_local_part_at_another_provider() -> None:
    linker, frame, found = packaged_pairs(
        [
            person("newsletter", None, None, "anna.nowak+news@gmail.com"),
            person("crm", "Anna", "Nowak", "annanowak@wp.pl"),
            person("crm", "Anna", "Nowak", "anna.nowak2@onet.pl"),  # another number
            person("crm", "Anna", "Nowak", "a.nowak@o2.pl"),
        ]
    )
    assert {pair for pair in found if 1 in pair} == {(2, 1)}
    # ... and the matcher weighs the pair by the local part, as the record has no surname.
    vectors, _ = linker.compare(pd.MultiIndex.from_tuples([(2, 1)]), frame)
    column = [c.field for c in linker.settings.comparisons].index("email")
    email = linker.settings.comparisons[column]
    assert email.levels[int(vectors[0, column])].name == "same_local_part"


def test_the_derived_keys_read_an_initial_and_an_e_mails_handle() -> None:
    settings = LinkageSettings.build(
        {"first_name": "first_name", "last_name": "name", "email": "email"},
        [["last_name", "first_name:first1"], ["email:local"]],
    )
    frame = pd.DataFrame(
        {
            "first_name": ["john", "j", None, "j", "adam"],
            "last_name": ["smith", "smith", None, "jones", "smith"],
            "email": [None, "john_smith@yahoo.co.uk", "john.smith+shop@gmail.com", None, None],
        },
        index=pd.Index([1, 2, 3, 4, 5], name="id"),
    ).astype(object)
    # J Smith meets John Smith (not J Jones, not Adam Smith); the two handles meet.
    assert pairs_of(Linker(settings), frame) == {(2, 1), (3, 2)}


@pytest.mark.parametrize("seed", range(6))
def test_block_rules_give_the_pairs_of_recordlinkages_block_index(seed: int) -> None:
    # The linker makes a block rule's pairs itself, group by group; they must be exactly
    # recordlinkage's, within one frame (later record first) and across two.
    rng = np.random.default_rng(seed)
    values: dict[str, list[str | None]] = {
        "first_name": ["ann", "bob", "cy", None],
        "last_name": ["lee", "li", None],
        "birth_date": ["1980-01-01", "1990-02-02", None],
    }

    def random_people(n: int, start: int) -> pd.DataFrame:
        rows = [
            tuple(options[int(rng.integers(len(options)))] for options in values.values())
            for _ in range(n)
        ]
        frame = pd.DataFrame(rows, columns=list(values), dtype=object)
        frame.index = pd.Index(range(start, start + n), name="id")
        return frame

    rule = ["last_name", "first_name"]
    linker = Linker(LinkageSettings.build(FIELDS, [rule]))
    frame = random_people(int(rng.integers(0, 40)), 1)
    other = random_people(int(rng.integers(0, 40)), 1000)
    indexer = recordlinkage.Index()
    indexer.block(left_on=rule, right_on=rule)
    assert set(linker.candidate_pairs(frame)) == set(indexer.index(frame))
    assert set(linker.candidate_pairs(frame, other)) == set(indexer.index(frame, other))
    assert len(linker.candidate_pairs(frame)) == len(indexer.index(frame))
