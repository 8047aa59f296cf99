"""The bulk path for large files: rows mapped in worker processes, records written in
large batches, and the records a load creates resolved once, at the end.

The incremental path re-clusters each batch's closure as it goes, and most of a large
load's closures are the same profiles over and over (a person's CRM record, then their
shop account, then their receipts). Here a batch is written, indexed and scored by the
match model as on the incremental path, but records it *creates* are left without a
profile; a record it *changes* (and every holder of an identifier that crossed its cap)
is resolved in the batch's own unit of work, as before, since it already belongs to a
profile. When every batch is in, the records without a profile are resolved once, in
batches of whole groups of records that share identifiers; after each commits, worker
processes compute the read model's rows of the profiles it changed, then segments
follow. Profiles do not depend on the order records arrived in (identity/clustering.py),
so the result is the partition the incremental path gives, with ids kept by the same
rules (docs/scale.md says where ids can differ).

Until the end, new records are stored without a profile: lookups do not find them yet.
A load stopped part way (killed, a failure) leaves a marker in the store's metadata; the
next ingest, or ``idgraph resolve``, resolves what it left.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field

from identity.audit import SYSTEM
from identity.derived import DerivedData
from identity.ingest.pool import Mapped, MappingPool
from identity.ingest.rows import Row
from identity.ingest.service import (
    IngestProgress,
    IngestReport,
    IngestService,
    ProgressCallback,
    count_resolution,
)
from identity.matching.index import MatchFields
from identity.model import IdentifierKey, RecordId, RecordRef, SourceRecord
from identity.profile_view_workers import StoreOpener, ViewWorkers, default_view_workers
from identity.worker_processes import RARE_COLLECTIONS

PENDING_KEY = "bulk_ingest_pending"
"""Metadata set while a bulk load has records it has not resolved yet, or read-model rows
it has not written (stage "views")."""
VIEWS = "views"
WRITE_BATCH = 20_000
"""Records per write: one unit of work, one upsert, one index write, one scoring call."""
RESOLVE_BATCH = 50_000
"""Records without a profile resolved per unit of work. Memory follows it (about 0.5 GB
at 50,000, 1 GB at 200,000), and so does the time the read-model workers wait: they
compute a batch's rows while the next one resolves. Resolving 300,000 demo records took
51 s in batches of 50,000 and 57 s in batches of 200,000."""


@contextmanager
def rare_collections() -> Iterator[None]:
    """Make the cyclic garbage collector run rarely for a while.

    A bulk load keeps hundreds of thousands of small objects alive for seconds to
    minutes (a batch of records, the closure being resolved); at the default thresholds
    the collector rescans that growing heap over and over, about a third of the writing
    process's time. Reference counting frees everything a load drops; the few cycles
    wait for the next, rarer collection. What existed before is frozen out of them.
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*RARE_COLLECTIONS)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _after(offset: int, progress: ResolveProgress | None) -> ResolveProgress | None:
    """``progress`` of a later batch counted on from the batches before it."""
    if progress is None:
        return None
    return lambda done, total: progress(offset + done, offset + total)


def default_workers() -> int:
    """One mapping process per core but one: the calling process writes to the store."""
    return max(1, (os.cpu_count() or 2) - 1)


ResolveProgress = Callable[[int, int], None]
"""Called with (records resolved so far, records to resolve)."""


@dataclass(slots=True)
class _Batch:
    """Records to write in one unit of work, with the match rows the workers derived."""

    records: list[SourceRecord] = field(default_factory=list)
    match: dict[RecordRef, tuple[SourceRecord, MatchFields]] = field(default_factory=dict)


class BulkIngest:
    """Loads rows of a registered source in bulk (see the module's docstring)."""

    def __init__(
        self,
        ingest: IngestService,
        derived: DerivedData,
        opener: StoreOpener | None = None,
        workers: int | None = None,
        view_workers: int | None = None,
        batch_size: int = WRITE_BATCH,
        resolve_batch: int = RESOLVE_BATCH,
    ) -> None:
        self.ingest = ingest
        self.derived = derived
        self.store = ingest.store
        self.resolver = ingest.resolver
        self.opener = opener
        """Opens the store in worker processes; None: rows are computed in this one."""
        self.workers = default_workers() if workers is None else workers
        """Processes mapping rows (0: this one)."""
        self.view_workers = default_view_workers() if view_workers is None else view_workers
        """Processes computing read-model rows, given an opener (0: this one)."""
        self.batch_size = batch_size
        """Records written per unit of work, at most the store's records_per_unit_of_work."""
        self.resolve_batch = resolve_batch
        """Records without a profile resolved per unit of work (whole groups of records
        sharing identifiers), at most the store's records_per_unit_of_work."""

    def ingest_rows(
        self,
        source: str,
        rows: Iterable[Row],
        progress: ProgressCallback | None = None,
        actor: str = SYSTEM,
        resolving: ResolveProgress | None = None,
        viewing: ResolveProgress | None = None,
        defer: bool = False,
    ) -> IngestReport:
        """Map, store and resolve rows of a registered source. Raises UnknownSource.

        Bad rows are reported as on the incremental path. Each batch is written in one unit
        of work; a failure leaves earlier batches stored (their new records resolved by
        the next bulk ingest or :meth:`resolve_pending`) and the failing batch not at all.
        ``defer``: leave the new records pending, for a later bulk ingest (of another
        source, say) or :meth:`resolve_pending` to resolve them all at once.
        ``resolving`` and ``viewing`` get the progress of resolution and of the read model.
        """
        mapping = self.ingest.source(source)
        report = IngestReport(source=source)
        started = time.perf_counter()
        # Mapped ahead: the batch being written and the next one.
        ahead = 2 * self._write_batch()
        pool = MappingPool(mapping, self.ingest.rules, self.workers, ahead)
        with rare_collections(), pool:
            for batch in self._batches(pool.map(rows), report):
                self._write(batch, report)
                if progress is not None:
                    progress(IngestProgress(report.received, report.accepted, report.rejected))
        if not defer:
            with rare_collections():
                self._resolve(report, resolving, viewing)
        self.ingest.finish(report, started, progress, actor)
        return report

    def pending(self) -> bool:
        """Whether a bulk load left records it has not resolved."""
        return bool(self.store.meta.get(PENDING_KEY))

    def resolve_pending(
        self,
        resolving: ResolveProgress | None = None,
        viewing: ResolveProgress | None = None,
        actor: str = SYSTEM,
    ) -> IngestReport:
        """Resolve what deferred or stopped bulk loads left without a profile; audited."""
        report = IngestReport(source="")
        started = time.perf_counter()
        with rare_collections():
            self._resolve(report, resolving, viewing)
        report.seconds = time.perf_counter() - started
        if self.ingest.audit is not None:
            summary = {
                "profiles_created": report.profiles_created,
                "profiles_merged": report.profiles_merged,
                "profiles_split": report.profiles_split,
                "seconds": round(report.seconds, 3),
            }
            self.ingest.audit.record(actor, "resolve", target="pending", after=summary)
        return report

    def _batches(self, mapped: Iterable[Mapped], report: IngestReport) -> Iterator[_Batch]:
        size = self._write_batch()
        batch = _Batch()
        for outcome, match in mapped:
            report.add(outcome)
            record = outcome.record
            if record is not None:
                batch.records.append(record)
                if match is not None:
                    batch.match[record.ref] = (record, match)
                if len(batch.records) >= size:
                    yield batch
                    batch = _Batch()
        if batch.records:
            yield batch

    def _write_batch(self) -> int:
        return min(self.batch_size, self.store.records_per_unit_of_work)

    def _write(self, batch: _Batch, report: IngestReport) -> None:
        store = self.store
        with store.unit_of_work():
            if not store.meta.get(PENDING_KEY):
                store.meta.set(PENDING_KEY, {"source": report.source})
            stored = self.ingest.store_batch(batch.records, report, batch.match)
            if stored is None:
                return
            # Records that already had a profile, holders of an identifier that started
            # or stopped linking, and the identifiers' flags: now, as the incremental
            # path does them. Created records wait for the end.
            changed = [w.record_id for w in stored.writes if w.changed and not w.created]
            outcome = self.resolver.resolve(
                changed, stored.touched, stored.status_changed, identifier_counts=stored.after
            )
            count_resolution(outcome, report)
        stored.count(report)

    def _unresolved(self) -> list[RecordId]:
        store = self.store
        refs = [ref for ref, profile in store.records.scan_profiles() if profile is None]
        return sorted(store.records.ids(refs).values()) if refs else []

    def _resolve(
        self,
        report: IngestReport,
        resolving: ResolveProgress | None,
        viewing: ResolveProgress | None,
    ) -> None:
        """Resolve every record without a profile, then bring the read model and segments
        up to date; the pending marker goes when all of it is done."""
        store = self.store
        state = store.meta.get(PENDING_KEY)
        if isinstance(state, dict) and state.get("stage") == VIEWS:
            # Stopped after resolving, before every row was written: which profiles it
            # changed is lost, so every row is recomputed.
            self._rebuild_views(viewing)
        seeds = self._unresolved()
        total, done, viewed = len(seeds), 0, 0
        with self._view_workers() as workers:
            # The workers compute a batch's read-model rows while this process resolves
            # the next batch; its rows are written once that one is committed.
            rest_of_views: Callable[[], None] | None = None
            for chunk in self._resolution_batches(seeds) if seeds else [[]]:
                if resolving is not None:
                    resolving(done, total)
                done += len(chunk)
                # An earlier batch's closure may have resolved some (a matcher link, a
                # steward's must-link or a capped value reaching across batches).
                found = store.profiles.ids_of(chunk)
                chunk = [rid for rid in chunk if rid not in found]
                with store.unit_of_work():
                    outcome = self.resolver.resolve(chunk, notify=False)
                    store.meta.set(PENDING_KEY, {"source": report.source, "stage": VIEWS})
                count_resolution(outcome, report)
                if rest_of_views is not None:
                    rest_of_views()
                rest_of_views = self.derived.after_bulk(outcome, workers, _after(viewed, viewing))
                viewed += len(outcome.affected)
            if rest_of_views is not None:
                rest_of_views()
        with store.unit_of_work():
            store.meta.set(PENDING_KEY, None)
        if resolving is not None:
            resolving(total, total)

    def _resolution_batches(self, seeds: list[RecordId]) -> list[list[RecordId]]:
        """``seeds`` in batches of about :attr:`resolve_batch` records, records sharing a
        linking identifier in one batch, so that each profile is resolved once and a
        batch's closure stays its own size (memory grows with the closure: about 5 GB
        for a million records in one)."""
        size = min(self.resolve_batch, self.store.records_per_unit_of_work)
        if len(seeds) <= size:
            return [seeds]
        import numpy as np
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        rules = self.ingest.rules
        position = {rid: i for i, rid in enumerate(seeds)}
        keys: dict[IdentifierKey, int] = {}
        caps: list[int] = []
        records: list[int] = []
        held: list[int] = []
        for start in range(0, len(seeds), 50_000):
            part = seeds[start : start + 50_000]
            for rid, identifiers in self.store.records.identifiers_of(part).items():
                for ident in identifiers:
                    rule = rules.kinds.get(ident.kind)
                    if rule is None or not rule.links or rules.is_blocklisted(ident.key):
                        continue
                    number = keys.get(ident.key)
                    if number is None:
                        number = keys[ident.key] = len(keys)
                        caps.append(rule.cardinality_cap)
                    records.append(position[rid])
                    held.append(number)
        n = len(seeds)
        rows, cols = np.asarray(records, dtype=np.int64), np.asarray(held, dtype=np.int64)
        # A value held by more of the seeds than its kind's cap links none of them.
        counts = np.bincount(cols, minlength=len(keys))
        keep = counts[cols] <= np.asarray(caps, dtype=np.int64)[cols]
        rows, cols = rows[keep], cols[keep] + n
        nodes = n + len(keys)
        edges = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(nodes, nodes))
        _, labels = connected_components(edges, directed=False)
        groups: dict[int, list[RecordId]] = {}
        for rid, label in zip(seeds, labels[:n].tolist(), strict=True):
            groups.setdefault(label, []).append(rid)
        batches: list[list[RecordId]] = [[]]
        for group in groups.values():
            if batches[-1] and len(batches[-1]) + len(group) > size:
                batches.append([])
            batches[-1].extend(group)
        return batches

    def _rebuild_views(self, viewing: ResolveProgress | None) -> None:
        with self._view_workers() as workers:
            self.derived.views.rebuild(workers=workers)
        self.derived.segments.refresh()

    def _view_workers(self) -> AbstractContextManager[ViewWorkers | None]:
        if self.opener is None or self.view_workers == 0:
            return nullcontext()
        # Enough batches ahead to keep the workers busy while the next batch resolves.
        return ViewWorkers(self.opener, self.ingest.rules, self.view_workers, in_flight=10)
