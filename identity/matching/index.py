"""The match index: per stored record, the values the probabilistic matcher compares and
its blocking keys, kept in the store so that a record arriving alone finds its candidates
through one indexed lookup per key instead of a scan.

A blocking key is ``"<rule number>:<derived values joined by |>"``: two records share one
exactly when they agree on every key of that blocking rule, the same pairs
recordlinkage's block index gives the batch path (a record missing any key of a rule has
no key for it, as recordlinkage drops rows with a missing key). A sorted-neighbourhood rule
keys a record by its sorting key and ``block_on`` values: the index finds the records with
the same value, the centre of the window; the neighbours with near values are the batch
path's (``idgraph link``) alone, see docs/matching.md. The index belongs to the
``[matching]`` settings it was built for; its fingerprint is kept in the store's metadata
and a change of settings means a rebuild (``idgraph train`` does it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

import pandas as pd

from identity.matching.comparisons import full_name_value
from identity.matching.linker import _DERIVED, LinkageSettings
from identity.model import JSONValue, MatchRow, RecordId, RecordRef, SourceRecord
from identity.normalise import normalise_name, normalise_text
from identity.rules import BlockingRule, MatchingRules, Rules, SortedNeighbourhoodRule, rule_keys
from identity.store.base import Store

INDEX_KEY = "match_index"
INDEX_FORMAT = 2
"""Bumped when the way fields or keys are derived changes, which forces a rebuild."""
_NAME_KINDS = {"first_name", "name"}
_FULL_NAME_KINDS = {"full_name"}
_REBUILD_BATCH = 10_000

Progress = Callable[[int], None]
"""Called with the number of records indexed so far during a rebuild."""


def linkage_settings(matching: MatchingRules) -> LinkageSettings:
    """The linkage settings of the rules' ``[matching]`` section."""
    return LinkageSettings.build(
        dict(matching.fields),
        matching.blocking,
        link_threshold=matching.link_threshold,
        review_threshold=matching.review_threshold,
        max_block_size=matching.max_block_size,
        chunk_pairs=matching.chunk_pairs,
        em_sample_pairs=matching.em_sample_pairs,
    )


def model_fingerprint(rules: Rules, settings: LinkageSettings) -> str:
    """The index's fingerprint together with every comparison's levels: a model trained
    for other levels (an upgrade changed a comparison) must not score with these."""
    levels = [[c.name, *c.level_names] for c in settings.comparisons]
    text = json.dumps([settings_fingerprint(rules), levels])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def settings_fingerprint(rules: Rules) -> str:
    """A short hash of everything the index and the model depend on in ``[matching]``."""
    matching = rules.matching
    document: JSONValue = {
        "format": INDEX_FORMAT,
        "fields": dict(matching.fields) if matching else {},
        "blocking": [_rule_document(rule) for rule in matching.blocking] if matching else [],
    }
    text = json.dumps(document, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _rule_document(rule: BlockingRule) -> JSONValue:
    if isinstance(rule, SortedNeighbourhoodRule):
        return {
            "sorted_neighbourhood": rule.key,
            "window": rule.window,
            "block_on": list(rule.block_on),
        }
    return list(rule)


MatchFields = tuple[dict[str, str | None], tuple[str, ...]]
"""A record's compared values and blocking keys: its match row but for its id."""


class MatchRows:
    """Derives a record's match row from the record alone: the bulk path derives them in
    its mapping workers (identity/ingest/pool.py), where the store is not at hand."""

    def __init__(self, rules: Rules, settings: LinkageSettings) -> None:
        self.rules = rules
        self.settings = settings
        self.fields = [c.field for c in settings.comparisons]
        kinds = rules.matching.fields if rules.matching else {}
        self._cleaners = {name: _cleaner(kinds.get(name)) for name in self.fields}
        # Per blocking key's field, the comparison it may be read from (a surname from a
        # full name: Comparison.blocking_value).
        self._borrowed = {
            part: comparison
            for comparison in settings.comparisons
            for part in comparison.part_fields
        }

    # -- deriving rows ---------------------------------------------------------------------

    def fields_of(self, record: SourceRecord) -> dict[str, str | None]:
        """The compared values of a record: an identifier kind's first value (sorted), or
        the attribute of that name, normalised; None where the record has none."""
        values: dict[str, str | None] = {}
        for name in self.fields:
            if name in self.rules.kinds:
                # A blocklisted value (test@test.com) is no evidence of anything.
                held = sorted(
                    i.value
                    for i in record.identifiers
                    if i.kind == name and not self.rules.is_blocklisted(i.key)
                )
                values[name] = held[0] if held else None
            else:
                raw = record.attributes.get(name)
                text = self._cleaners[name](str(raw)) if raw is not None and raw != "" else ""
                values[name] = text or None
        return values

    def keys_of(self, fields: dict[str, str | None]) -> tuple[str, ...]:
        """The record's blocking keys, one per rule it has every key of."""
        keys: list[str] = []
        for number, rule in enumerate(self.settings.blocking):
            parts: list[str] = []
            for key in rule_keys(rule):
                base, _, form = key.partition(":")
                value = fields.get(base)
                lender = self._borrowed.get(base)
                if lender is not None:
                    value = lender.blocking_value(base, fields)
                if form and value is not None:
                    value = _DERIVED[form](value)
                if value is None:
                    break
                parts.append(value)
            else:
                keys.append(f"{number}:{'|'.join(parts)}")
        return tuple(keys)

    def match_fields(self, record: SourceRecord) -> MatchFields:
        fields = self.fields_of(record)
        return fields, self.keys_of(fields)

    def row_of(
        self, record_id: RecordId, record: SourceRecord, derived: MatchFields | None = None
    ) -> MatchRow:
        """The record's row; ``derived``: its :meth:`match_fields`, worked out elsewhere."""
        fields, keys = derived or self.match_fields(record)
        return MatchRow(record_id, fields, keys)


class MatchIndex(MatchRows):
    """Derives match rows from records and keeps the store's match index current."""

    def __init__(self, store: Store, rules: Rules, settings: LinkageSettings) -> None:
        super().__init__(rules, settings)
        self.store = store
        self.fingerprint = settings_fingerprint(rules)
        self._checked = False

    def frame(self, rows: Iterable[MatchRow]) -> pd.DataFrame:
        """One row per record (index = record id, ascending), one column per field."""
        ordered = sorted(rows, key=lambda r: r.record_id)
        columns = {name: [r.fields.get(name) for r in ordered] for name in self.fields}
        return pd.DataFrame(columns, index=pd.Index([r.record_id for r in ordered], name="id"))

    def frame_of_batches(
        self, batches: Iterable[Sequence[MatchRow]], progress: Progress | None = None
    ) -> pd.DataFrame:
        """:meth:`frame` of rows read batch by batch, holding only the values, never every
        row object at once (a million rows with their keys weigh gigabytes as objects)."""
        ids: list[RecordId] = []
        columns: dict[str, list[str | None]] = {name: [] for name in self.fields}
        for batch in batches:
            ids.extend(row.record_id for row in batch)
            for name, values in columns.items():
                values.extend(row.fields.get(name) for row in batch)
            if progress is not None:
                progress(len(ids))
        frame = pd.DataFrame(columns, index=pd.Index(ids, name="id"))
        return frame if frame.index.is_monotonic_increasing else frame.sort_index(kind="stable")

    # -- keeping the store's index ---------------------------------------------------------

    def is_current(self) -> bool:
        """Whether the stored index was built for these settings (and is complete)."""
        doc = self.store.meta.get(INDEX_KEY)
        return isinstance(doc, dict) and doc.get("settings") == self.fingerprint

    def start_if_empty(self) -> None:
        """Mark a store without records as indexed for these settings: every record ingested
        from now on is indexed as it arrives, so the index stays complete. Call before the
        first write; it looks at the store once per index object."""
        if self._checked:
            return
        if self.store.meta.get(INDEX_KEY) is None and (
            next(iter(self.store.records.scan_profiles(batch_size=1)), None) is None
        ):
            self.store.meta.set(INDEX_KEY, {"settings": self.fingerprint})
        self._checked = True

    def put(
        self,
        records: Sequence[tuple[RecordId, SourceRecord]],
        derived: Mapping[RecordRef, tuple[SourceRecord, MatchFields]] | None = None,
    ) -> list[MatchRow]:
        """Store the records' rows. ``derived``: rows worked out elsewhere, each with the
        record it was derived from; used only for that very record (suppression may
        have stored another, with identifiers left out)."""
        rows = [self.row_of(rid, r, _derived_for(r, derived)) for rid, r in records]
        self.store.matching.put_rows(rows)
        return rows

    def rebuild(self, progress: Progress | None = None) -> int:
        """Re-derive every stored record's row (for new settings); returns the count."""
        store = self.store
        done = 0
        with store.unit_of_work():
            store.matching.clear()
            batch: list[RecordRef] = []
            for ref, _ in store.records.scan_profiles():
                batch.append(ref)
                if len(batch) >= _REBUILD_BATCH:
                    done += self._index_refs(batch)
                    batch = []
                    if progress is not None:
                        progress(done)
            if batch:
                done += self._index_refs(batch)
            store.meta.set(INDEX_KEY, {"settings": self.fingerprint})
        if progress is not None:
            progress(done)
        return done

    def _index_refs(self, refs: list[RecordRef]) -> int:
        ids = self.store.records.ids(refs)
        records = self.store.records.get(ids.values())
        self.put([(rid, stored.record) for rid, stored in records.items()])
        return len(records)

    def ensure(self, progress: Progress | None = None) -> None:
        """Rebuild the index unless it is current."""
        if not self.is_current():
            self.rebuild(progress)

    def all_rows(self) -> Iterator[MatchRow]:
        for batch in self.store.matching.scan_rows():
            yield from batch


def _derived_for(
    record: SourceRecord, derived: Mapping[RecordRef, tuple[SourceRecord, MatchFields]] | None
) -> MatchFields | None:
    found = derived.get(record.ref) if derived else None
    return found[1] if found is not None and found[0] is record else None


def _cleaner(kind: str | None) -> Callable[[str], str]:
    """How a compared attribute of this comparison kind is normalised: names transliterated
    (``Зоя`` = ``zoya``), a full name also cut into its words without titles (``Mr J.
    Smith-Jones``: ``j smith jones``), anything else as text."""
    if kind in _FULL_NAME_KINDS:
        return lambda raw: full_name_value([normalise_name(raw)])
    return normalise_name if kind in _NAME_KINDS else normalise_text
