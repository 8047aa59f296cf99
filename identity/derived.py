"""Keeping what is derived from profiles current: the read model first, then segment
membership (which reads it), in the unit of work of the change that touched them.

Every write that changes profiles reaches this one place: the resolver's re-resolutions
(records, merges, splits, stewards' actions, identifier flags), events, erasure and
retention, and a source's changed priority or consent mapping.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from identity.model import ProfileId
from identity.profile_view import ProfileViewService, RowWorkers, in_batches
from identity.resolution import Resolution
from identity.segments import SegmentService


class DerivedData:
    """Tells the read model, then segments, which profiles changed."""

    def __init__(self, views: ProfileViewService, segments: SegmentService) -> None:
        self.views = views
        self.segments = segments

    def on_resolution(self, outcome: Resolution) -> None:
        """Resolver listener: the profiles a re-resolution changed, merged or deleted."""
        self.profiles_changed(
            outcome.affected, merged=outcome.changes.merged, deleted=outcome.changes.deleted
        )

    def on_events(self, touched: set[ProfileId]) -> None:
        """Event service listener: profiles whose journeys gained or changed events (their
        records did not change: only traits and consent are recomputed)."""
        self.views.refresh_activity(touched)
        self.segments.profiles_changed(set(touched))

    def profiles_changed(
        self,
        live: Collection[ProfileId],
        merged: Mapping[ProfileId, ProfileId] | None = None,
        deleted: Collection[ProfileId] = (),
    ) -> int:
        """Recompute the rows of ``live`` profiles and drop those of ids merged away or
        deleted, then re-evaluate segments. Returns the membership changes made."""
        gone = set(merged or {}) | set(deleted)
        self.views.forget(gone)
        self.views.refresh(set(live) - gone)
        return self.segments.profiles_changed(set(live), merged=merged, deleted=list(deleted))

    def after_bulk(
        self,
        outcome: Resolution,
        workers: RowWorkers | None = None,
        progress: Callable[[int, int], None] | None = None,
        batch_size: int = 2_000,
    ) -> Callable[[], None]:
        """What :meth:`on_resolution` does, for a resolution committed without telling
        its listeners (a bulk load's): rows written batch by batch, each its own unit of
        work, computed by ``workers`` when given; then segments. ``progress`` gets
        (profiles done, profiles to do).

        Returns the rest of the work, to call before the next ``after_bulk``: the ids
        merged away are forgotten now and the workers start on the rows, so the caller
        can resolve its next batch meanwhile; the returned call writes the rows and
        re-evaluates segments. Rows of profiles the next batch changes again are written
        again by its own ``after_bulk``, which comes later (and forgets ids it merged
        away after these rows are in)."""
        store = self.views.store
        changes = outcome.changes
        gone = set(changes.merged) | set(changes.deleted)
        with store.unit_of_work():
            self.views.forget(gone)
        live = sorted(outcome.affected - gone)
        written = self.views.write_rows(in_batches(live, batch_size), workers)

        def finish() -> None:
            done = 0
            for batch, _ in written:
                done += len(batch)
                if progress is not None:
                    progress(done, len(live))
            with store.unit_of_work():
                self.segments.profiles_changed(
                    set(live), merged=changes.merged, deleted=list(changes.deleted)
                )

        return finish
