"""The probabilistic matcher over the store: train the model, link stored records.

Stored records become a frame of match fields (attributes by name, identifiers by kind),
the :class:`~identity.matching.linker.Linker` scores blocked candidate pairs, and pairs at
or above the link threshold become weighted MATCH links (``matcher = "fellegi_sunter"``),
pairs in the review band REVIEW links, each with its explanation as evidence. The
resolver then re-clusters: limits from the deterministic rules and stewards' cannot-links
still hold, because clustering refuses any union that breaks them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from identity.errors import ConfigError
from identity.matching.linker import LinkageSettings, Linker
from identity.matching.model import MatchModel
from identity.model import Link, LinkType, RecordId, RecordRef, StoredRecord
from identity.normalise import normalise_name, normalise_text
from identity.resolution import Resolver
from identity.rules import Rules
from identity.store.base import Store

MATCHER = "fellegi_sunter"
MODEL_KEY = "match_model"
_NAME_KINDS = {"first_name", "name"}
_BATCH = 20_000

Progress = Callable[[str], None]


@dataclass(slots=True)
class LinkReport:
    records: int
    candidate_pairs: int
    links: int
    reviews: int
    profiles_merged: int
    profiles_split: int


class ProbabilisticMatcher:
    """Trains the Fellegi-Sunter model on the stored records and links them with it."""

    def __init__(self, store: Store, rules: Rules, resolver: Resolver) -> None:
        if rules.matching is None:
            raise ConfigError(
                "the rules have no [matching] section: add one to use the probabilistic "
                "matcher (see docs/matching.md)",
                field="matching",
            )
        self.store = store
        self.rules = rules
        self.resolver = resolver
        self.settings = LinkageSettings.build(
            dict(rules.matching.fields),
            rules.matching.blocking,
            link_threshold=rules.matching.link_threshold,
            review_threshold=rules.matching.review_threshold,
        )

    # -- the frame of match fields ---------------------------------------------------------

    def frame(self, records: Sequence[StoredRecord]) -> pd.DataFrame:
        """One row per record (index = record id), one column per compared field."""
        columns: dict[str, list[str | None]] = {}
        for comparison in self.settings.comparisons:
            name = comparison.field
            is_kind = name in self.rules.kinds
            kind = self.rules.matching.fields[name] if self.rules.matching else ""
            clean = normalise_name if kind in _NAME_KINDS else normalise_text
            values: list[str | None] = []
            for stored in records:
                if is_kind:
                    held = sorted(i.value for i in stored.record.identifiers if i.kind == name)
                    values.append(held[0] if held else None)
                else:
                    raw = stored.record.attributes.get(name)
                    text = clean(str(raw)) if raw is not None and raw != "" else ""
                    values.append(text or None)
            columns[name] = values
        return pd.DataFrame(columns, index=pd.Index([r.record_id for r in records], name="id"))

    def _all_records(self) -> Iterator[list[StoredRecord]]:
        batch: list[RecordRef] = []
        for ref, _ in self.store.iter_record_profiles():
            batch.append(ref)
            if len(batch) >= _BATCH:
                yield self._load(batch)
                batch = []
        if batch:
            yield self._load(batch)

    def _load(self, refs: list[RecordRef]) -> list[StoredRecord]:
        ids = self.store.record_ids(refs)
        records = self.store.get_records(ids.values())
        return [records[i] for i in sorted(records)]

    def all_frame(self) -> pd.DataFrame:
        frames = [self.frame(batch) for batch in self._all_records()]
        return pd.concat(frames) if frames else self.frame([])

    # -- training and linking --------------------------------------------------------------

    def model(self) -> MatchModel | None:
        doc = self.store.get_meta(MODEL_KEY)
        return MatchModel.from_document(doc) if doc is not None else None

    def train(self, frame: pd.DataFrame | None = None) -> MatchModel:
        """Estimate the model on every stored record and persist it with the store."""
        frame = self.all_frame() if frame is None else frame
        if len(frame) < 2:
            raise ConfigError("training needs at least two stored records", field="records")
        model = Linker(self.settings).train(frame)
        self.store.set_meta(MODEL_KEY, model.to_document())
        return model

    def link_all(self, frame: pd.DataFrame | None = None) -> LinkReport:
        """Score every candidate pair of the stored records with the persisted model, store
        the links and review pairs, and re-resolve the profiles they touch."""
        model = self.model()
        if model is None:
            raise ConfigError("no trained match model: run `idgraph train` first", field="model")
        frame = self.all_frame() if frame is None else frame
        linker = Linker(self.settings, model)
        _, scored = linker.score(frame)
        probabilities = scored.probabilities
        names = [c.name for c in self.settings.comparisons]
        links: list[Link] = []
        reviews = 0
        chosen = np.flatnonzero(probabilities >= self.settings.review_threshold)
        tf_columns = {i for i, c in enumerate(self.settings.comparisons) if c.term_frequency}
        required = self.rules.matching.require_agreement if self.rules.matching else ()
        # (column, index of its last level) of every field that must not disagree.
        vetoes = [
            (i, len(c.levels) - 1)
            for i, c in enumerate(self.settings.comparisons)
            if c.field in required
        ]
        for i in chosen:
            a, b = int(scored.left[i]), int(scored.right[i])
            values = [
                frame.at[a, name] if column in tf_columns else None
                for column, name in enumerate(names)
            ]
            levels = [int(v) for v in scored.vectors[i]]
            score = model.score(levels, values)
            evidence = score.evidence()
            vetoed = [names[c] for c, last in vetoes if levels[c] == last]
            if vetoed:
                evidence["disagrees_on"] = vetoed
            kind = (
                LinkType.MATCH
                if score.probability >= self.settings.link_threshold and not vetoed
                else LinkType.REVIEW
            )
            reviews += kind is LinkType.REVIEW
            links.append(Link(a, b, kind, MATCHER, score.probability, evidence))
        record_ids: list[RecordId] = [int(x) for x in frame.index]
        with self.store.unit_of_work():
            self.store.replace_links(record_ids, MATCHER, links)
            outcome = self.resolver.resolve(record_ids)
        return LinkReport(
            records=len(frame),
            candidate_pairs=len(scored),
            links=len(links) - reviews,
            reviews=reviews,
            profiles_merged=outcome.profiles_merged,
            profiles_split=outcome.profiles_split,
        )
