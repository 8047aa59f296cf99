"""The composition root of the domain: one store, the rules, and the use cases over them.

Entry points (CLI, HTTP) build one :class:`IdentityGraph` and call its services.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path

from identity.audit import AuditService
from identity.catalog import FieldCatalog
from identity.clusters import ClusterService
from identity.derived import DerivedData
from identity.destinations import DestinationService
from identity.events import EventService
from identity.households.service import HouseholdService
from identity.ingest import IngestService
from identity.ingest.bulk import BulkIngest
from identity.journeys import JourneyService
from identity.matching.matcher import ProbabilisticMatcher
from identity.matching.search import ProfileSearch
from identity.normalise import Normaliser
from identity.privacy.access import PersonDataService
from identity.privacy.erasure import ErasureService, Forgetting
from identity.privacy.retention import RetentionService
from identity.profile_view import ProfileViewService
from identity.profile_view_workers import StoreOpener
from identity.profiles import ProfileService
from identity.quality import QualityService
from identity.resolution import Resolver, utc_now
from identity.rules import Rules, load_rules
from identity.segments import SegmentService
from identity.stewardship import StewardService
from identity.store.base import Store
from identity.store.factory import open_store


class IdentityGraph:
    """A store together with the rules and the services that use them.

    ``clock`` is the services' "now" (record and event times, membership changes, the end
    of segment time windows); a fixed clock evaluates a data set as of its own date.
    """

    def __init__(
        self,
        store: Store,
        rules: Rules,
        clock: Callable[[], datetime] = utc_now,
        opener: StoreOpener | None = None,
    ) -> None:
        self.store = store
        self.opener = opener
        """Opens this store again in a worker process (None: work stays in this one)."""
        self.rules = rules
        self.clock = clock
        self.normaliser = Normaliser(rules)
        self.resolver = Resolver(store, rules, clock=clock)
        self.audit = AuditService(store, clock=clock)
        self.matcher: ProbabilisticMatcher | None = None
        if rules.matching is not None:
            self.matcher = ProbabilisticMatcher(store, rules, self.resolver)
        self.catalog = FieldCatalog(store, rules)
        self.ingest = IngestService(
            store,
            rules,
            self.normaliser,
            self.resolver,
            matcher=self.matcher,
            clock=clock,
            audit=self.audit,
            catalog=self.catalog,
        )
        self.profiles = ProfileService(store, rules, self.normaliser)
        self.events = EventService(
            store, rules, self.normaliser, self.ingest, clock=clock, audit=self.audit
        )
        self.journeys = JourneyService(store)
        self.views = ProfileViewService(store, rules, self.profiles, clock=clock)
        self.segments = SegmentService(store, rules, self.views, clock=clock, audit=self.audit)
        self.stewardship = StewardService(store, self.resolver, self.audit, clock=clock)
        self.clusters = ClusterService(store, rules)
        self.quality = QualityService(store, self.audit, clock=clock)
        self.households = HouseholdService(
            store, rules, self.views, self.audit, clock=clock, segments=self.segments
        )
        self.search = ProfileSearch(store, rules, self.normaliser, self.matcher)
        self.person_data = PersonDataService(
            store, rules, self.normaliser, self.profiles, self.audit, clock=clock
        )
        # The read model, then membership, follow every change in the change's own unit of
        # work: records and merges through the resolver, events (and consent events)
        # through the event service, erasure and retention through Forgetting, a source's
        # new priority or consent mapping through the ingest.
        self.derived = DerivedData(self.views, self.segments)
        self.resolver.listeners.append(self.derived.on_resolution)
        self.events.listeners.append(self.derived.on_events)
        self.ingest.profiles_listeners.append(self.derived.profiles_changed)
        self.forgetting = Forgetting(store, rules, self.resolver, self.derived, self.matcher)
        self.erasure = ErasureService(
            store, rules, self.normaliser, self.forgetting, self.ingest, self.audit, clock=clock
        )
        self.bulk = BulkIngest(self.ingest, self.derived, opener=opener)
        self.retention = RetentionService(store, self.forgetting, self.audit, clock=clock)
        self.destinations = DestinationService(
            store, rules, self.segments, self.catalog, self.audit, clock=clock
        )

    @classmethod
    def open(cls, store_url: str, rules_path: Path | None = None) -> IdentityGraph:
        """Open the store at ``store_url`` with the rules file (or the packaged default)."""
        rules = load_rules(rules_path)
        return cls(open_store(store_url), rules, opener=partial(open_store, store_url))

    def probabilistic(self) -> ProbabilisticMatcher:
        """The probabilistic matcher; ConfigError when the rules have no [matching]."""
        return self.matcher or ProbabilisticMatcher(self.store, self.rules, self.resolver)

    def close(self) -> None:
        self.store.close()
