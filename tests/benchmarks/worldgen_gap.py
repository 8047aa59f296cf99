"""Where idgraph's errors on the worldgen exports come from: false pairs by cause, missed
pairs by the evidence they had, duplicate CRM accounts, and what the mappings lose.

Reads what `python -m tests.benchmarks.generator_linkage --generator worldgen --keep DIR`
kept for one population (DIR/worldgen-pN: the generated files in world/, the idgraph
store after ingest, ingest-events, train and link in idgraph.db) and prints counts:

    .venv/bin/python -m tests.benchmarks.worldgen_gap /tmp/keep/worldgen-p10000

Nothing here changes what is measured: it explains the figures of the linkage table.
A *false pair* is two records of different people in one profile; a *missed pair* two
records of one person in different profiles (pairwise precision and recall count them).
"""

from __future__ import annotations

import argparse
import csv
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from identity.evaluation import RecordKey, load_assignment, pairwise
from identity.graph import IdentityGraph
from identity.matching.linker import Linker
from identity.matching.matcher import ProbabilisticMatcher
from identity.matching.names import same_persons_name
from identity.model import IdentifierKey, Link, LinkType, RecordId
from identity.normalise import normalise_text
from tests.benchmarks.generator_linkage import (
    WORLDGEN_EVENT_MAPPINGS,
    _given_near,
    _letters,
    _near,
)

TITLES = frozenset({"pan", "pani", "khun", "herr", "frau", "shri", "smt", "sri", "bwana", "bi"})
"""Honorifics of the worldgen countries that a full-name parser may take for a given name."""


@dataclass(frozen=True)
class Person:
    household: str
    given: str
    family: str
    known_as: str
    birth_date: str
    country: str
    twin_of: str
    namesake_of: str
    email_alias_of: str


def _people(path: Path) -> dict[str, Person]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {
            row["entity_id"]: Person(
                row["household_id"],
                row["given_name"],
                row["family_name"],
                row["known_as"],
                row["birth_date"],
                row["country"],
                row["twin_of"],
                row["namesake_of"],
                row["email_alias_of"],
            )
            for row in csv.DictReader(handle)
        }


def relation(people: Mapping[str, Person], p: str, q: str) -> str:
    """How two different people are related, most specific first."""
    a, b = people[p], people[q]
    if a.twin_of == q or b.twin_of == p:
        return "twins"
    if a.household == b.household:
        return "same household"
    if (a.given.casefold(), a.family.casefold()) == (b.given.casefold(), b.family.casefold()):
        return "namesakes (same passport name)"
    if a.email_alias_of == q or b.email_alias_of == p:
        return "same e-mail local part at another provider"
    if a.family.casefold() == b.family.casefold():
        return "same surname, other household"
    return "unrelated"


class Store:
    """The kept store's records, in the shapes the analysis needs."""

    def __init__(
        self, graph: IdentityGraph, truth: Mapping[RecordKey, str], people: Mapping[str, Person]
    ) -> None:
        self.graph = graph
        self.people = people
        profile_of = {}
        for ref, pid in graph.store.records.scan_profiles():
            profile_of[(ref.source, ref.key)] = pid
        ids = graph.store.records.ids([r for r, _ in graph.store.records.scan_profiles()])
        self.record_id: dict[RecordKey, RecordId] = {(r.source, r.key): i for r, i in ids.items()}
        self.key_of = {i: k for k, i in self.record_id.items()}
        self.profile = {self.record_id[k]: pid for k, pid in profile_of.items()}
        self.person = {self.record_id[k]: p for k, p in truth.items() if k in self.record_id}
        held = graph.store.records.identifiers_of(list(self.key_of))
        self.identifiers: dict[RecordId, frozenset[IdentifierKey]] = {
            i: frozenset(x.key for x in found) for i, found in held.items()
        }
        records = graph.store.records.get(list(self.person))
        self.attributes = {i: r.record.attributes for i, r in records.items()}
        matcher = ProbabilisticMatcher(graph.store, graph.rules, graph.resolver)
        self.frame = matcher.all_frame()
        self.settings = matcher.settings
        rows = self.frame.to_dict("index")
        self.row: dict[RecordId, dict[str, object]] = {int(i): r for i, r in rows.items()}
        self._holders: dict[IdentifierKey, int] = {}
        self.members: dict[str | None, list[RecordId]] = defaultdict(list)
        for record, pid in self.profile.items():
            self.members[pid].append(record)
        self.limits = {
            kind: rule.max_per_profile
            for kind, rule in graph.rules.kinds.items()
            if rule.max_per_profile is not None
        }

    def why_apart(self, key: IdentifierKey, a: RecordId, b: RecordId) -> str:
        """Why a shared identifier did not join two records of one person: its holders
        over the kind's cap, a phone whose holders' first names differ, or neither."""
        rule = self.graph.rules.kinds[key.kind]
        holders = self.holders(key)
        if holders > rule.cardinality_cap:
            return f"{key.kind} held by {holders} records, over its cap of {rule.cardinality_cap}"
        if rule.same_attribute:
            x, y = self.text(a, rule.same_attribute), self.text(b, rule.same_attribute)
            if x and y and not same_persons_name(x, y):
                return f"{key.kind} with different {rule.same_attribute}s (household guard)"
            held = self.graph.store.records.with_identifiers([key])[key]
            named = sorted({n for r in held if (n := self.text(r, rule.same_attribute))})
            if any(not same_persons_name(u, v) for u, v in itertools.combinations(named, 2)):
                return (
                    f"{key.kind} also held by a record with another {rule.same_attribute} "
                    "(household guard)"
                )
        for kind, limit in self.limits.items():
            held = {
                k
                for pid in (self.profile[a], self.profile[b])
                for r in self.members[pid]
                for k in self.identifiers.get(r, ())
                if k.kind == kind
            }
            if len(held) > limit:
                return f"{key.kind}, but together over the limit of {limit} {kind}s per profile"
        return f"{key.kind} (under the cap, names alike)"

    def holders(self, key: IdentifierKey) -> int:
        if key not in self._holders:
            self._holders[key] = self.graph.store.records.identifier_counts([key])[key]
        return self._holders[key]

    def links(self, ids: Iterable[RecordId], types: Iterable[LinkType]) -> list[Link]:
        found: list[Link] = []
        chunk = list(ids)
        for start in range(0, len(chunk), 5000):
            found += self.graph.store.links.of(chunk[start : start + 5000], types=list(types))
        return list({(x.a, x.b, x.type, x.matcher): x for x in found}.values())

    def source(self, record: RecordId) -> str:
        return self.key_of[record][0]

    def text(self, record: RecordId, name: str) -> str | None:
        value = self.row.get(record, {}).get(name)
        return value if isinstance(value, str) and value else None


# -- false pairs ---------------------------------------------------------------------------


def _link_cause(link: Link) -> str:
    if link.matcher == "deterministic":
        return f"shared {link.evidence.get('kind', 'identifier')}"
    return "probabilistic match"


def _agreeing(link: Link) -> str:
    """The fields a probabilistic link's explanation counts for it, as one label."""
    fields = link.evidence.get("fields")
    if not isinstance(fields, dict):
        return "?"
    agreed = []
    for name, value in fields.items():
        if isinstance(value, dict) and float(value.get("weight", 0) or 0) > 0:
            level = value.get("level")
            agreed.append(name if level in ("exact", None) else f"{name}~{level}")
    return ", ".join(sorted(agreed)) or "nothing"


def false_pairs(store: Store, people: Mapping[str, Person]) -> None:
    by_profile: dict[str, dict[str, list[RecordId]]] = defaultdict(lambda: defaultdict(list))
    for record, person in store.person.items():
        pid = store.profile.get(record)
        if pid is not None:
            by_profile[pid][person].append(record)
    mixed = {pid: groups for pid, groups in by_profile.items() if len(groups) > 1}
    members = [r for groups in mixed.values() for rs in groups.values() for r in rs]
    links = store.links(members, [LinkType.MATCH])
    crossing: dict[tuple[str, str], list[Link]] = defaultdict(list)
    for link in links:
        pa, pb = store.person.get(link.a), store.person.get(link.b)
        if pa and pb and pa != pb and store.profile.get(link.a) == store.profile.get(link.b):
            crossing[tuple(sorted((pa, pb)))].append(link)  # type: ignore[arg-type]
    by_relation: Counter[str] = Counter()
    by_join: Counter[str] = Counter()
    by_both: Counter[tuple[str, str]] = Counter()
    for groups in mixed.values():
        for (p, rp), (q, rq) in itertools.combinations(sorted(groups.items()), 2):
            pairs = len(rp) * len(rq)
            kind = relation(people, p, q)
            direct = crossing.get(tuple(sorted((p, q))), [])  # type: ignore[arg-type]
            causes = sorted({_link_cause(x) for x in direct})
            join = " + ".join(causes) if causes else "chained through a third person"
            by_relation[kind] += pairs
            by_join[join] += pairs
            by_both[(kind, join)] += pairs
    total = sum(by_relation.values())
    print(f"\n## False pairs: {total:,} in {len(mixed):,} profiles holding 2+ people\n")
    _table("relation of the two people", by_relation, total)
    _table("what joined them directly", by_join, total)
    _table(
        "relation x what joined them",
        Counter({f"{a} / {b}": n for (a, b), n in by_both.items()}),
        total,
        15,
    )
    wrong = [x for found in crossing.values() for x in found]
    fs = [x for x in wrong if x.matcher != "deterministic"]
    print(f"\nLinks between two people: {len(wrong):,}, of which probabilistic {len(fs):,}.")
    pattern: Counter[str] = Counter()
    rel: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    for link in fs:
        pattern[_agreeing(link)] += 1
        rel[relation(people, store.person[link.a], store.person[link.b])] += 1
        sources[" - ".join(sorted((store.source(link.a), store.source(link.b))))] += 1
    _table("probabilistic links between two people, by relation", rel, len(fs))
    _table("probabilistic links between two people, by sources", sources, len(fs))
    _table(
        "probabilistic links between two people, by the fields that agreed", pattern, len(fs), 12
    )
    det: Counter[str] = Counter()
    for link in wrong:
        if link.matcher == "deterministic":
            kind = relation(people, store.person[link.a], store.person[link.b])
            det[f"{_link_cause(link)} / {kind}"] += 1
    _table(
        "deterministic links between two people, by identifier and relation",
        det,
        len(wrong) - len(fs),
    )


# -- missed pairs --------------------------------------------------------------------------


def _names(store: Store, record: RecordId) -> tuple[str | None, str | None]:
    return store.text(record, "first_name"), store.text(record, "last_name")


def evidence(store: Store, a: RecordId, b: RecordId) -> str:
    """What two records of one person have in common, as a category."""
    shared = store.identifiers.get(a, frozenset()) & store.identifiers.get(b, frozenset())
    if shared:
        return "share " + " and ".join(sorted({store.why_apart(key, a, b) for key in shared}))
    (fa, la), (fb, lb) = _names(store, a), _names(store, b)
    if not (fa or la) or not (fb or lb):
        lonely, other = (a, b) if not (fa or la) else (b, a)
        return f"{store.source(lonely)} record with no name: " + _mailbox_relation(
            store, lonely, other
        )
    others = [
        name
        for name in ("birth_date", "postcode", "address", "city")
        if store.text(a, name) and store.text(a, name) == store.text(b, name)
    ]
    phone_a, phone_b = store.text(a, "phone"), store.text(b, "phone")
    if phone_a and phone_b and phone_a[-7:] == phone_b[-7:]:
        others.append("phone (last 7 digits)")
    mail_a, mail_b = store.text(a, "email"), store.text(b, "email")
    if mail_a and mail_b and _letters(mail_a.split("@")[0]) == _letters(mail_b.split("@")[0]):
        others.append("e-mail local part")
    extra = " + ".join(others) if others else "nothing else"
    initial = any(x and len(x) == 1 for x in (fa, fb))
    given, family = _given_near(fa, fb), _near(la, lb)
    if {fa, fb} & TITLES:
        label = "a title read as the first name (Pan, Pani, Khun)"
    elif given and family:
        label = "same name (an initial)" if initial else "same name"
    elif _near(fa, lb) and _near(la, fb):
        label = "names swapped (family name first)"
    elif family:
        person = store.people[store.person[a]]
        forms = {_plain(person.given), _plain(person.known_as)} - {""}
        both = {_plain(fa), _plain(fb)}
        why = "given name and the name they go by" if both <= forms and len(forms) == 2 else ""
        label = f"same surname, first name differs{f' ({why})' if why else ''}"
    elif given:
        label = "same first name, surname differs"
    else:
        label = "names differ"
    return f"{label} + {extra}"


def _plain(text: str | None) -> str:
    return _letters(normalise_text(text)) if text else ""


def _mailbox_relation(store: Store, lonely: RecordId, other: RecordId) -> str:
    """For a record with no name (a newsletter sign-up, a ticket from a bare address):
    how its e-mail relates to the other record's e-mail and name."""
    mail = store.text(lonely, "email")
    if not mail:
        return "no e-mail either"
    local = _letters(mail.split("@")[0])
    other_mail = store.text(other, "email")
    other_local = _letters(other_mail.split("@")[0]) if other_mail else ""
    surname = _letters(store.text(other, "last_name"))
    if other_local and local == other_local:
        return "same local part as the other's e-mail, another domain"
    if len(surname) >= 3 and surname in local:
        return "its e-mail's local part spells the other's surname"
    return "an e-mail unrelated to the other's name or e-mail"


def missed_pairs(store: Store) -> None:
    by_person: dict[str, list[RecordId]] = defaultdict(list)
    for record, person in store.person.items():
        by_person[person].append(record)
    candidates = Linker(store.settings).candidate_pairs(store.frame)
    scored = {
        (int(x), int(y))
        for x, y in zip(candidates.get_level_values(0), candidates.get_level_values(1), strict=True)
    }
    review = store.links(store.person, [LinkType.REVIEW])
    in_review = {(x.a, x.b) for x in review}
    category: Counter[str] = Counter()
    by_sources: Counter[str] = Counter()
    fate: Counter[str] = Counter()
    by_cat_fate: Counter[tuple[str, str]] = Counter()
    for records in by_person.values():
        for a, b in itertools.combinations(sorted(records), 2):
            if store.profile.get(a) == store.profile.get(b):
                continue
            kind = evidence(store, a, b)
            category[kind] += 1
            by_sources[" - ".join(sorted((store.source(a), store.source(b))))] += 1
            if (a, b) in in_review:
                how = "scored, sent to review"
            elif (a, b) in scored or (b, a) in scored:
                how = "scored, below the review threshold (or vetoed)"
            else:
                how = "never a candidate (no blocking rule pairs them)"
            fate[how] += 1
            by_cat_fate[(kind, how)] += 1
    total = sum(category.values())
    print(f"\n## Missed pairs: {total:,}\n")
    apart: Counter[str] = Counter()
    for records in by_person.values():
        main = Counter(store.profile[r] for r in records).most_common(1)[0][0]
        for record in records:
            if store.profile[record] != main:
                apart[store.source(record)] += 1
    _table(
        f"records outside the profile holding most of their person's records "
        f"({sum(apart.values()):,}), by source",
        apart,
        sum(apart.values()),
    )
    _table("what the two records share", category, total, 25)
    _table("by sources", by_sources, total, 15)
    _table("what the matcher did with the pair itself", fate, total)
    top = Counter({f"{k} / {h}": n for (k, h), n in by_cat_fate.items()})
    _table("evidence x what the matcher did", top, total, 20)


def crm_duplicates(store: Store) -> None:
    crm: dict[str, list[RecordId]] = defaultdict(list)
    for record, person in store.person.items():
        if store.source(record) == "crm":
            crm[person].append(record)
    dupes = {p: rs for p, rs in crm.items() if len(rs) > 1}
    merged = sum(1 for rs in dupes.values() if len({store.profile[r] for r in rs}) == 1)
    print(
        f"\n## Duplicate CRM accounts: {len(dupes):,} people with 2+ CRM accounts; "
        f"merged into one profile: {merged:,}; apart: {len(dupes) - merged:,}\n"
    )
    why: Counter[str] = Counter()
    for rs in dupes.values():
        if len({store.profile[r] for r in rs}) > 1:
            for a, b in itertools.combinations(sorted(rs), 2):
                if store.profile[a] != store.profile[b]:
                    why[evidence(store, a, b)] += 1
    _table("apart: what the two accounts share", why, sum(why.values()))


# -- what the mappings lose ----------------------------------------------------------------


def mapping_losses(store: Store, world: Path, people: Mapping[str, Person]) -> None:
    """Phones the sources wrote that became no identifier (no region to read them in),
    and CRM birth dates read as another day (a US row's month-first date read day first)."""
    print("\n## What the mappings could not read\n")
    written: Counter[str] = Counter()
    with_phone: Counter[str] = Counter()
    for record in store.person:
        source = store.source(record)
        written[source] += 1
        with_phone[source] += any(k == "phone" for k, _ in store.identifiers.get(record, ()))
    print(
        "records with a phone identifier, by source: "
        + ", ".join(f"{s} {with_phone[s]:,}/{written[s]:,}" for s in sorted(written))
    )
    with (world / "crm_accounts.csv").open(encoding="utf-8", newline="") as handle:
        countries = {
            row["account_id"]: row["country_code"].upper() for row in csv.DictReader(handle)
        }
    read = 0
    wrong: Counter[str] = Counter()
    for record, person in store.person.items():
        source, key = store.key_of[record]
        stored = store.attributes[record].get("birth_date")
        if source != "crm" or not isinstance(stored, str) or not stored:
            continue
        read += 1
        if stored != people[person].birth_date:
            wrong[countries.get(key) or "no country"] += 1
    print(
        f"CRM birth dates read: {read:,}; not the person's: {sum(wrong.values()):,} "
        f"(by the row's country: {dict(wrong.most_common())})"
    )


def _table(title: str, counts: Counter[str], total: int, top: int = 10) -> None:
    print(f"{title}:")
    for name, n in counts.most_common(top):
        print(f"  {n:>7,}  {n / total if total else 0:6.1%}  {name}")
    rest = sum(counts.values()) - sum(n for _, n in counts.most_common(top))
    if rest:
        print(f"  {rest:>7,}  {rest / total:6.1%}  (other)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kept", type=Path, help="DIR/worldgen-pN kept by generator_linkage")
    args = parser.parse_args()
    world = args.kept / "world"
    truth = {
        k: v
        for k, v in load_assignment(world / "truth.csv").items()
        if k[0] not in WORLDGEN_EVENT_MAPPINGS
    }
    people = _people(world / "truth_entities.csv")
    graph = IdentityGraph.open(f"sqlite:///{args.kept / 'idgraph.db'}")
    try:
        store = Store(graph, truth, people)
        predicted = {store.key_of[r]: pid for r, pid in store.profile.items()}
        scores = pairwise(predicted, truth)
        tp, fp, fn = (
            scores.true_positive_pairs,
            scores.false_positive_pairs,
            scores.false_negative_pairs,
        )
        # F1 0.92 at precision 0.98 needs recall 0.92 * 0.98 / (2 * 0.98 - 0.92).
        recall_needed = 0.92 * 0.98 / (2 * 0.98 - 0.92)
        print(
            f"pairs: {tp:,} found, {fp:,} false, {fn:,} missed (precision "
            f"{scores.precision:.4f}, recall {scores.recall:.4f}, F1 {scores.f1:.4f}). "
            f"Precision 0.98 allows {tp * 0.02 / 0.98:,.0f} false pairs with these found; "
            f"F1 0.92 at precision 0.98 needs recall {recall_needed:.4f}, at most "
            f"{(tp + fn) * (1 - recall_needed):,.0f} missed pairs."
        )
        false_pairs(store, people)
        missed_pairs(store)
        crm_duplicates(store)
        mapping_losses(store, world, people)
    finally:
        graph.close()


if __name__ == "__main__":
    main()
