"""Profile search: what a caller knows of a person (a name, a postcode, a birth date, an
e-mail, a phone) in, candidate profiles out, best first, each explained field by field as
the probabilistic matcher explains a link.

The criteria become a *probe*: a record normalised as ingest normalises records, read in
every way the input allows (``John Smith`` split at each word either way round, a
national phone number in each source's region). The probe finds candidate records only
through the match index's blocking keys and the identifier index, never a scan; each
candidate is compared with each reading by the matcher's own comparison levels and
weighed by the persisted Fellegi-Sunter model, and the best reading counts. The best
record of a profile stands for the profile. Without a model fitting the settings, the
levels alone rank (:func:`level_points`) and the page says so. See docs/stewardship.md,
"Searching for a person".
"""

from __future__ import annotations

import bisect
import calendar
import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum

import numpy as np
import numpy.typing as npt
import pandas as pd

from identity.cursors import decode_cursor, encode_cursor
from identity.errors import ConfigError, InvalidArgument, InvalidCursor, InvalidIdentifier
from identity.matching.comparisons import MISSING, Comparison
from identity.matching.matcher import ProbabilisticMatcher
from identity.matching.model import MatchModel, probability
from identity.matching.names import SUFFIXES, TITLES, name_forms
from identity.model import (
    Identifier,
    IdentifierKey,
    JSONValue,
    MatchRow,
    ProfileId,
    RecordId,
    RecordRef,
    SourceRecord,
)
from identity.normalise import Normaliser
from identity.rules import Rules, rule_keys
from identity.store.base import Store

MAX_PAGE = 100
MAX_NAME_LENGTH = 200
MAX_NAME_WORDS = 5
"""A longer name is refused: every split of it is a reading to look up and compare."""
ARGUMENTS = ("name", "postcode", "birthDate", "email", "phone")
"""The criteria as the API names them; errors name the argument at fault."""
_CURSOR = "search"

_MONTHS = {
    name.casefold(): number
    for names in (calendar.month_name, calendar.month_abbr)
    for number, name in enumerate(names)
    if name
} | {"sept": 9}
_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_NUMERIC = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")
_DAY_MONTH = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?[ -]([a-z]+)\.?,?[ -](\d{4})$")
_MONTH_DAY = re.compile(r"^([a-z]+)\.? (\d{1,2})(?:st|nd|rd|th)?,? (\d{4})$")
_SHORT_YEAR = re.compile(r"^\d{1,2}[-/. ][\da-z]+\.?[-/. ]\d{2}$")

Levels = npt.NDArray[np.int8]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SearchCriteria:
    """What the caller knows, as typed; empty or blank values count as not given."""

    name: str | None = None
    postcode: str | None = None
    birth_date: str | None = None
    email: str | None = None
    phone: str | None = None

    def given(self) -> dict[str, str]:
        """The criteria given, by argument name, stripped."""
        values = (self.name, self.postcode, self.birth_date, self.email, self.phone)
        return {
            argument: value.strip()
            for argument, value in zip(ARGUMENTS, values, strict=True)
            if value is not None and value.strip()
        }


class Ranking(Enum):
    MATCH_MODEL = "match_model"
    """Match weights of the persisted Fellegi-Sunter model (log2 odds)."""
    COMPARISON_LEVELS = "comparison_levels"
    """No model fits the settings: :func:`level_points` of each field's level."""


@dataclass(frozen=True, slots=True)
class FieldEvidence:
    """One searched field of a hit: the level the probe and the record fell in, what it
    weighed, and the two values compared (normalised; personal, mask them on the way out)."""

    field: str
    level: str
    weight: float
    searched: str | None
    found: str | None


@dataclass(frozen=True, slots=True)
class SearchHit:
    rank: int
    profile_id: ProfileId
    record: RecordRef
    """The profile's record that matched best: the one the fields explain."""
    score: float
    """The match weight (prior log-odds plus the fields' weights), or the level points."""
    probability: float | None
    """The match probability, with a model; None when comparison levels rank."""
    fields: tuple[FieldEvidence, ...]
    cursor: str


@dataclass(frozen=True, slots=True)
class SearchPage:
    hits: list[SearchHit]
    total: int
    """Candidate profiles over all pages."""
    has_next_page: bool
    end_cursor: str | None
    ranking: Ranking
    notes: tuple[str, ...]
    """What the caller should know about this ranking: a missing model, criteria left out,
    blocking keys too common to use. Never a searched value."""


def level_points(comparison: Comparison) -> list[float]:
    """The ranking without a model: 1 for the exact level, evenly less for each weaker
    level, -1 when the values disagree ("else"); a missing value adds nothing. Plain and
    predictable, not calibrated: train a model (``idgraph train``) for match weights."""
    partial = len(comparison.levels) - 1
    return [1.0 - i / partial for i in range(partial)] + [-1.0]


# -- reading the criteria ----------------------------------------------------------------------


def name_readings(text: str) -> list[tuple[str | None, str | None]]:
    """(given name, surname) readings of a full name, the likeliest first.

    ``Smith, John`` is surname first (with a middle name, also without it). Without a
    comma every split between words is a reading, given names first (``Mary Ann Smith``:
    mary / ann smith, mary ann / smith, and mary / smith without the middle name), then
    the same surname first, as some write it. One word is a surname or a given name.
    Leading titles (Mr, Dr) and trailing suffixes (Jr) are dropped.
    """
    if "," in text:
        surname_part, given_part = text.split(",", 2)[:2]
        surname = " ".join(_words(surname_part)) or None
        given = _words(given_part)
        readings: list[tuple[str | None, str | None]] = [(" ".join(given) or None, surname)]
        if len(given) > 1:
            readings.append((given[0], surname))
    else:
        words = _words(text)
        if len(words) == 1:
            readings = [(None, words[0]), (words[0], None)]
        else:
            readings = []
            for cut in range(1, len(words)):
                readings.append((" ".join(words[:cut]), " ".join(words[cut:])))
                if cut > 1:
                    readings.append((words[0], " ".join(words[cut:])))
            for cut in range(1, len(words)):
                readings.append((" ".join(words[cut:]), " ".join(words[:cut])))
    found = [r for r in dict.fromkeys(readings) if r != (None, None)]
    if not found:
        raise InvalidArgument("name: no name is left once titles are removed", "name")
    return found


def _words(text: str) -> list[str]:
    words = unicodedata.normalize("NFKC", text).split()
    while words and words[0].rstrip(".").casefold() in TITLES:
        words = words[1:]
    while len(words) > 1 and words[-1].rstrip(".").casefold() in SUFFIXES:
        words = words[:-1]
    return words


def birth_date_readings(text: str) -> list[str]:
    """ISO dates (``YYYY-MM-DD``, as ingest stores dates) a typed birth date can mean.

    Accepted: ``1980-03-14`` (also with / or .), ``19800314``, ``14/03/1980`` (also - or
    .), ``14 March 1980``, ``March 14, 1980``. Numeric dates are read day first, as in the
    UK, and month first only where day first is no date (``03/14/1980``): the date
    comparison's ``day_month_swapped`` level already gives a record with the other reading
    of ``04/05/1980`` its credit, as it does between two records.
    """
    value = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    readings: list[tuple[int, int, int]] = []
    if match := _ISO.match(value) or _COMPACT.match(value):
        year, month, day = (int(g) for g in match.groups())
        readings.append((year, month, day))
    elif match := _NUMERIC.match(value):
        first, second, year = (int(g) for g in match.groups())
        readings += [(year, second, first)] if second <= 12 else [(year, first, second)]
    elif match := _DAY_MONTH.match(value):
        day_text, month_name, year_text = match.groups()
        readings.append((int(year_text), _MONTHS.get(month_name, 0), int(day_text)))
    elif match := _MONTH_DAY.match(value):
        month_name, day_text, year_text = match.groups()
        readings.append((int(year_text), _MONTHS.get(month_name, 0), int(day_text)))
    elif _SHORT_YEAR.match(value):
        raise InvalidArgument("birthDate: write the year in full (1980, not 80)", "birthDate")
    found = [d for d in (_date(*r) for r in readings) if d is not None]
    if not found:
        raise InvalidArgument(
            "birthDate: not a date in a known format; write 1980-03-14, 14/03/1980 or "
            "14 March 1980",
            "birthDate",
        )
    return list(dict.fromkeys(found))


def _date(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


# -- the probe ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Roles:
    """Which compared field each criterion fills, by comparison kind in ``[matching]``."""

    given: str | None
    surname: str | None
    birth_date: str | None
    postcode: str | None
    email: str | None
    phone: str | None

    @classmethod
    def of(cls, kinds: Mapping[str, str]) -> _Roles:
        def pick(kind: str, preferred: str) -> str | None:
            named = [name for name, k in kinds.items() if k == kind]
            return preferred if preferred in named else (named[0] if named else None)

        return cls(
            given=pick("first_name", "first_name"),
            surname=pick("name", "last_name"),
            birth_date=pick("date", "birth_date"),
            postcode=pick("postcode", "postcode"),
            email=pick("email", "email"),
            phone=pick("phone", "phone"),
        )

    def argument_of(self, field: str) -> str | None:
        by_field = {
            self.given: "a first name (in name)",
            self.surname: "a last name (in name)",
            self.birth_date: "birthDate",
            self.postcode: "postcode",
            self.email: "email",
            self.phone: "phone",
        }
        return by_field.get(field)


@dataclass(frozen=True, slots=True)
class _Probe:
    """Every reading of the criteria as compared fields, and the identifiers to look up."""

    readings: list[dict[str, str | None]]
    keys: set[str]
    identifiers: list[IdentifierKey]
    notes: list[str]

    def fingerprint(self) -> str:
        """Short hash of the normalised criteria: a cursor belongs to one search."""
        text = json.dumps([self.readings, sorted(self.identifiers)], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


# -- the search --------------------------------------------------------------------------------


class ProfileSearch:
    """Finds and ranks profiles for what a caller knows of a person."""

    def __init__(
        self,
        store: Store,
        rules: Rules,
        normaliser: Normaliser,
        matcher: ProbabilisticMatcher | None,
    ) -> None:
        self.store = store
        self.rules = rules
        self.normaliser = normaliser
        self.matcher = matcher
        kinds = rules.matching.fields if rules.matching else {}
        self.roles = _Roles.of(kinds)

    def search(
        self, criteria: SearchCriteria, first: int = 20, after: str | None = None
    ) -> SearchPage:
        """One page of the candidate profiles, best first (ties by profile id).

        Raises InvalidArgument naming the argument at fault (no criterion, a page size
        outside 1..100, a date or e-mail that cannot be read, criteria that can find
        nothing under the blocking rules), InvalidCursor for a cursor of another search,
        and ConfigError when the rules have no ``[matching]`` or the match index is
        being rebuilt for new settings.
        """
        if not 1 <= first <= MAX_PAGE:
            raise InvalidArgument(f"first must be between 1 and {MAX_PAGE}, got {first}", "first")
        given = criteria.given()
        if not given:
            raise InvalidArgument(f"give at least one of {', '.join(ARGUMENTS)}")
        matcher = self._matcher()
        probe = self._probe(matcher, given)
        fingerprint = probe.fingerprint()
        position = _position(after, fingerprint) if after else None
        model, why = matcher.current_model()
        ranking = Ranking.MATCH_MODEL if model is not None else Ranking.COMPARISON_LEVELS
        notes = list(probe.notes)
        if model is None:
            notes.insert(0, f"{why}: ranked by comparison levels, not match weights")
        if not matcher.index.is_current():
            if next(iter(self.store.records.scan_profiles(batch_size=1)), None) is None:
                return SearchPage([], 0, False, None, ranking, tuple(notes))  # nothing stored
            raise ConfigError(
                "the match index was built for other [matching] settings: run `idgraph "
                "train`, which rebuilds it, before searching",
                field="matching",
            )
        rows, holders, skipped = self._candidates(matcher, probe)
        if skipped:
            notes.append(
                f"{skipped} blocking key(s) or identifier(s) are held by more than "
                f"{matcher.settings.max_block_size} records (max_block_size) and found no "
                "candidates"
            )
        ranked = _Ranker(matcher, model, probe, rows, holders)
        best = self._best_per_profile(rows, ranked)
        order = sorted(best, key=lambda pid: (-best[pid][0], pid))
        start = 0
        if position is not None:
            keys = [(-best[pid][0], pid) for pid in order]
            start = bisect.bisect_right(keys, (-position[0], position[1]))
        page = order[start : start + first]
        refs = self.store.records.refs([best[pid][1] for pid in page])
        hits = []
        for offset, pid in enumerate(page):
            score, record_id, c = best[pid]
            hits.append(
                SearchHit(
                    rank=start + offset + 1,
                    profile_id=pid,
                    record=refs[record_id],
                    score=score,
                    probability=probability(score) if model is not None else None,
                    fields=ranked.explain(c),
                    cursor=encode_cursor(_CURSOR, fingerprint, score, pid),
                )
            )
        return SearchPage(
            hits=hits,
            total=len(order),
            has_next_page=start + first < len(order),
            end_cursor=hits[-1].cursor if hits else None,
            ranking=ranking,
            notes=tuple(notes),
        )

    def _best_per_profile(
        self, rows: Sequence[MatchRow], ranked: _Ranker
    ) -> dict[ProfileId, tuple[float, RecordId, int]]:
        """Per profile, its best candidate record: (score, record id, candidate position);
        equal scores keep the older (lower) record id."""
        profiles = self.store.profiles.ids_of([row.record_id for row in rows])
        best: dict[ProfileId, tuple[float, RecordId, int]] = {}
        for c, row in enumerate(rows):
            pid = profiles.get(row.record_id)
            if pid is None:
                continue
            score = float(ranked.best[c])
            held = best.get(pid)
            if held is None or (score, -row.record_id) > (held[0], -held[1]):
                best[pid] = (score, row.record_id, c)
        return best

    def _matcher(self) -> ProbabilisticMatcher:
        if self.matcher is None:
            raise ConfigError(
                "search ranks by the probabilistic matcher's comparisons and the rules have "
                "no [matching] section: add one (see docs/matching.md)",
                field="matching",
            )
        return self.matcher

    # -- the probe -----------------------------------------------------------------------------

    def _probe(self, matcher: ProbabilisticMatcher, given: Mapping[str, str]) -> _Probe:
        roles = self.roles
        notes: list[str] = []
        for argument, role in (
            ("postcode", roles.postcode),
            ("birthDate", roles.birth_date),
            ("email", roles.email),
            ("phone", roles.phone),
        ):
            if argument in given and role is None:
                raise InvalidArgument(
                    f"{argument}: the [matching] settings compare no such field, so it cannot "
                    "be searched",
                    argument,
                )
        names: list[tuple[str | None, str | None]] = [(None, None)]
        if "name" in given:
            text = given["name"]
            if len(text) > MAX_NAME_LENGTH or len(text.split()) > MAX_NAME_WORDS:
                raise InvalidArgument(
                    f"name: at most {MAX_NAME_WORDS} words and {MAX_NAME_LENGTH} characters",
                    "name",
                )
            if roles.given is None and roles.surname is None:
                raise InvalidArgument("name: the [matching] settings compare no name field", "name")
            names = name_readings(text)
        dates: list[str | None] = [None]
        if "birthDate" in given:
            dates = list(birth_date_readings(given["birthDate"]))
        emails = self._identifiers("email", roles.email, given.get("email"), notes)
        phones = self._identifiers("phone", roles.phone, given.get("phone"), notes)
        readings: list[dict[str, str | None]] = []
        keys: set[str] = set()
        index = matcher.index
        email_options: list[Identifier | None] = [*emails] or [None]
        phone_options: list[Identifier | None] = [*phones] or [None]
        for given_name, surname in names:
            for birth in dates:
                for email in email_options:
                    for phone in phone_options:
                        fields = index.fields_of(
                            self._record(
                                given_name,
                                surname,
                                birth,
                                given.get("postcode"),
                                [i for i in (email, phone) if i is not None],
                            )
                        )
                        readings.append(fields)
                        keys.update(self._keys(matcher, fields))
        identifiers = [i.key for i in [*emails, *phones] if i.kind in self.rules.kinds]
        if not keys and not identifiers:
            looked_up = {"email": emails, "phone": phones}
            junk = [a for a in looked_up if a in given and not looked_up[a]]
            if junk:
                raise InvalidArgument(
                    f"{junk[0]}: on the blocklist (a placeholder, not a person's), so it finds "
                    "nothing; search with a name as well",
                    junk[0],
                )
            raise InvalidArgument(self._finds_nothing(matcher, given), next(iter(given)))
        return _Probe(list(_distinct(readings)), keys, identifiers, notes)

    def _record(
        self,
        given_name: str | None,
        surname: str | None,
        birth: str | None,
        postcode: str | None,
        identifiers: list[Identifier],
    ) -> SourceRecord:
        """One reading as a record, for the match index to derive its fields from exactly
        as it does for an ingested record."""
        roles = self.roles
        attributes: dict[str, JSONValue] = {}
        for field, value in (
            (roles.given, given_name),
            (roles.surname, surname),
            (roles.birth_date, birth),
            (roles.postcode, postcode),
        ):
            if field is not None and value:
                attributes[field] = value
        kinds = self.rules.kinds
        for ident in identifiers:
            if ident.kind not in kinds:
                attributes[ident.kind] = ident.original  # compared as an attribute
        found = tuple(i for i in identifiers if i.kind in kinds)
        return SourceRecord(source="", key="", identifiers=found, attributes=attributes)

    def _keys(self, matcher: ProbabilisticMatcher, fields: dict[str, str | None]) -> set[str]:
        """The reading's blocking keys, and those of its given name's other forms (a search
        for ``Bob`` also looks where ``Robert`` is filed; the comparison decides)."""
        keys = set(matcher.index.keys_of(fields))
        given = self.roles.given
        value = fields.get(given) if given else None
        if given and value:
            for form in sorted(name_forms(value) - {value}):
                keys.update(matcher.index.keys_of({**fields, given: form}))
        return keys

    def _identifiers(
        self, argument: str, field: str | None, raw: str | None, notes: list[str]
    ) -> list[Identifier]:
        """The e-mail or phone normalised as ingest would have stored it (a national phone
        number read in each phone region of the registered sources)."""
        if raw is None or field is None:
            return []
        if field not in self.rules.kinds:
            return [Identifier(field, raw, raw)]  # compared as an attribute
        regions: list[str | None] = [None]
        if self.rules.kinds[field].normaliser == "phone" and not raw.startswith("+"):
            regions = self._phone_regions()
            if not regions:
                raise InvalidArgument(
                    f"{argument}: no country code, and no registered source sets a phone "
                    "region to read it in: write it as +CC...",
                    argument,
                )
        found: dict[str, Identifier] = {}
        problem = ""
        for region in regions:
            try:
                ident = self.normaliser.identifier(field, raw, region)
            except InvalidIdentifier as error:
                problem = error.problem
                continue
            found.setdefault(ident.value, ident)
        if not found:
            raise InvalidArgument(f"{argument}: {problem}", argument)
        usable = [i for i in found.values() if not self.rules.is_blocklisted(i.key)]
        if not usable:
            notes.append(
                f"the {argument} is on the blocklist: it is neither looked up nor compared"
            )
        return usable

    def _phone_regions(self) -> list[str | None]:
        regions = set()
        for name in self.store.sources.names():
            doc = self.store.sources.get(name) or {}
            region = doc.get("phone_region")
            if isinstance(region, str) and region:
                regions.add(region)
        return list(sorted(regions))

    def _finds_nothing(self, matcher: ProbabilisticMatcher, given: Mapping[str, str]) -> str:
        ways = []
        for rule in matcher.settings.blocking:
            needs = [self.roles.argument_of(key.partition(":")[0]) for key in rule_keys(rule)]
            if all(needs):
                ways.append(" and ".join(dict.fromkeys(n for n in needs if n)))
        hint = f"; search with {', or '.join(ways)}" if ways else ""
        return (
            f"{', '.join(given)}: these criteria find no candidates under the [matching] "
            f"blocking rules (a birthDate only ranks what the others find){hint}"
        )

    # -- candidates ----------------------------------------------------------------------------

    def _candidates(
        self, matcher: ProbabilisticMatcher, probe: _Probe
    ) -> tuple[list[MatchRow], dict[IdentifierKey, set[RecordId]], int]:
        """The candidate records' match rows (by record id), the records holding each
        searched identifier, and how many blocking keys were too common to use."""
        store = self.store
        cap = matcher.settings.max_block_size
        counts = store.matching.key_counts(probe.keys) if probe.keys else {}
        usable = sorted(k for k, n in counts.items() if 0 < n <= cap)
        skipped = sum(1 for n in counts.values() if n > cap)
        rows = store.matching.rows_with_keys(usable) if usable else []
        holders: dict[IdentifierKey, set[RecordId]] = {}
        if probe.identifiers:
            held = store.records.identifier_counts(probe.identifiers)
            wanted = [k for k in probe.identifiers if 0 < held.get(k, 0) <= cap]
            skipped += sum(1 for k in probe.identifiers if held.get(k, 0) > cap)
            if wanted:
                holders = {k: set(v) for k, v in store.records.with_identifiers(wanted).items()}
        seen = {row.record_id for row in rows}
        extra = {rid for ids in holders.values() for rid in ids} - seen
        if extra:
            rows = sorted([*rows, *store.matching.rows_of(extra)], key=lambda r: r.record_id)
        return rows, holders, skipped


def _position(cursor: str, fingerprint: str) -> tuple[float, ProfileId]:
    found, score, pid = decode_cursor(cursor, _CURSOR, 3)
    if found != fingerprint:
        raise InvalidCursor(cursor)
    if isinstance(score, bool) or not isinstance(score, int | float) or not isinstance(pid, str):
        raise InvalidCursor(cursor)
    return float(score), pid


def _distinct(readings: list[dict[str, str | None]]) -> list[dict[str, str | None]]:
    seen: dict[str, dict[str, str | None]] = {}
    for reading in readings:
        seen.setdefault(json.dumps(reading, sort_keys=True), reading)
    return list(seen.values())


class _Ranker:
    """Scores every candidate against every reading of the probe, keeps the best reading
    per candidate, and explains it.

    Per field the comparison runs once per distinct probe value over the candidates'
    distinct values; a reading's score is the prior plus its fields' weights, added in
    the model's order, so it equals :meth:`MatchModel.score` of the pair to the bit.
    """

    def __init__(
        self,
        matcher: ProbabilisticMatcher,
        model: MatchModel | None,
        probe: _Probe,
        rows: Sequence[MatchRow],
        holders: Mapping[IdentifierKey, set[RecordId]],
    ) -> None:
        comparisons = matcher.settings.comparisons
        self.comparisons = comparisons
        self.probe = probe
        self.rows = rows
        points = [level_points(c) for c in comparisons]

        def table(column: int, value: str) -> list[float]:
            return model.level_weights(column, value) if model is not None else points[column]

        prior = model.prior_weight if model is not None else 0.0
        readings = probe.readings
        scores = np.full((len(readings), len(rows)), prior, dtype=np.float64)
        # (column, probe value) -> each candidate's level, and its found value where an
        # identifier lookup found the candidate holding the searched value.
        self.levels: dict[tuple[int, str], Levels] = {}
        self.weights: dict[tuple[int, str], Floats] = {}
        for column, comparison in enumerate(comparisons):
            compared = [comparison.value_of(reading) for reading in readings]
            values = [value for value, _ in compared]
            for value, whole in dict(compared).items():
                if not value:
                    continue
                found = self._found(comparison, value, holders)
                levels = _compare(comparison, value, found)
                if whole:
                    both = np.fromiter((covered for _, covered in found), bool, len(found))
                    both &= levels != MISSING
                    same = np.fromiter((v == value for v, _ in found), bool, len(found))
                    comparison.settle_overlap(levels, both, same)
                weights = np.asarray([*table(column, value), 0.0], dtype=np.float64)
                self.levels[(column, value)] = levels
                # MISSING (-1) takes the trailing 0.0: no evidence either way.
                self.weights[(column, value)] = weights[levels]
            for r, held in enumerate(values):
                if held:
                    scores[r] += self.weights[(column, held)]
        # The first best reading (the likeliest) explains a tie.
        self.chosen = np.argmax(scores, axis=0)
        self.best = scores[self.chosen, np.arange(len(rows))]

    def _found(
        self,
        comparison: Comparison,
        value: str,
        holders: Mapping[IdentifierKey, set[RecordId]],
    ) -> list[tuple[str | None, bool]]:
        """The candidates' compared values (:meth:`Comparison.value_of`: with whether they
        have every overlapping field); a record holding the searched identifier among
        several (the index keeps one per record) shows the searched one."""
        found = [comparison.value_of(row.fields) for row in self.rows]
        held = holders.get(IdentifierKey(comparison.field, value))
        if held:
            for c, row in enumerate(self.rows):
                if row.record_id in held:
                    found[c] = (value, False)
        return found

    def explain(self, candidate: int) -> tuple[FieldEvidence, ...]:
        reading = self.probe.readings[int(self.chosen[candidate])]
        evidence = []
        for column, comparison in enumerate(self.comparisons):
            value, probe_covered = comparison.value_of(reading)
            if not value:
                continue
            level = int(self.levels[(column, value)][candidate])
            row = self.rows[candidate]
            found, covered = comparison.value_of(row.fields)
            if level == MISSING and probe_covered and covered:
                continue  # a full name beside the first and last name that explain it
            if level == 0:
                found = value  # exact, or the searched identifier among the record's
            evidence.append(
                FieldEvidence(
                    field=comparison.field,
                    level="missing" if level == MISSING else comparison.levels[level].name,
                    weight=float(self.weights[(column, value)][candidate]),
                    searched=value,
                    found=found,
                )
            )
        return tuple(evidence)


def _compare(
    comparison: Comparison, value: str, found: Sequence[tuple[str | None, bool]]
) -> Levels:
    """The level of (``value``, each found value), compared once per distinct value."""
    codes, uniques = pd.factorize(np.asarray([v for v, _ in found], dtype=object))
    levels = comparison.compare([value] * len(uniques), list(uniques))
    out = np.full(len(found), MISSING, dtype=np.int8)
    present = codes >= 0
    out[present] = levels[codes[present]]
    return out
