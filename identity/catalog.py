"""The fields a profile can be asked for, by name: ``profile_id``, identifier kinds,
``traits.NAME``, ``consent.PURPOSE``, and the attribute names the stored records hold.

Records are schemaless (unmapped fields are kept as attributes under their own names), so
the attribute names are data: ingest notes each batch's names in the store's metadata
(``attribute_names``) in the batch's own unit of work, and a store written before the
catalog existed is read once to build it. An export or a segment can then refuse a name
nothing holds (``shoe``) instead of answering ``null`` for everyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from identity.errors import InvalidArgument
from identity.journeys import TRAIT_NAMES
from identity.rules import Rules
from identity.store.base import Store

CATALOG_KEY = "attribute_names"
PROFILE_FIELDS = ("profile_id", "id")
TRAIT_FIELDS = (*TRAIT_NAMES, "event_counts")


class FieldCatalog:
    """What the store's profiles can show, kept current by ingest."""

    def __init__(self, store: Store, rules: Rules) -> None:
        self.store = store
        self.rules = rules
        self._known: frozenset[str] | None = None

    def note(self, names: Iterable[str]) -> None:
        """Record attribute names a batch stored; call inside the batch's unit of work."""
        names = set(names)
        if self._known is not None and names <= self._known:
            return
        stored = self._stored()
        first = stored is None
        if stored is None:
            stored = self._scan()
        known = stored | names
        if first or known != stored:
            self.store.meta.set(CATALOG_KEY, sorted(known))
        # Only what the store held before this batch: the batch's names (and a first scan,
        # which reads the batch's records) may yet be rolled back with its unit of work,
        # and the next batch holding them must then store them.
        self._known = None if first else frozenset(stored)

    def attribute_names(self) -> frozenset[str]:
        """Every attribute name a stored record holds (or held: names are never dropped)."""
        stored = self._stored()
        if stored is None:
            with self.store.unit_of_work():
                stored = self._scan()
                self.store.meta.set(CATALOG_KEY, sorted(stored))
        self._known = frozenset(stored)
        return self._known

    def fields(self) -> list[str]:
        """Every field name an export may ask for, in the order a reader scans them."""
        purposes = sorted(self.rules.events.purposes)
        return [
            "profile_id",
            *sorted(self.rules.kinds),
            *sorted(self.attribute_names() - set(self.rules.kinds)),
            *(f"traits.{t}" for t in TRAIT_FIELDS),
            *(f"consent.{p}" for p in purposes),
        ]

    def known(self, fields: Sequence[str]) -> list[str]:
        """The fields of ``fields`` something can answer, in their order (for a default
        list of columns, which should not fail on a store that lacks some of them)."""
        found = []
        for name in fields:
            try:
                self.check([name])
            except InvalidArgument:
                continue
            found.append(name)
        return found

    def check(self, fields: Sequence[str], argument: str = "fields") -> None:
        """Raise InvalidArgument naming the first field nothing can answer, with the
        fields that can be asked for."""
        if not fields:
            raise InvalidArgument(f"{argument}: choose at least one field", argument=argument)
        attributes: frozenset[str] | None = None
        for name in fields:
            if name in PROFILE_FIELDS or name in self.rules.kinds:
                continue
            if name.startswith("traits."):
                if name.removeprefix("traits.") in TRAIT_FIELDS:
                    continue
            elif name.startswith("consent."):
                if name.removeprefix("consent.") in self.rules.events.purposes:
                    continue
            else:
                attributes = attributes if attributes is not None else self.attribute_names()
                if name in attributes:
                    continue
            raise InvalidArgument(
                f"{argument}: no profile has a field {name!r}; the fields are "
                f"{', '.join(self.fields())}",
                argument=argument,
            )

    def _stored(self) -> set[str] | None:
        found = self.store.meta.get(CATALOG_KEY)
        return {str(n) for n in found} if isinstance(found, list) else None

    def _scan(self) -> set[str]:
        """The attribute names of every stored record: one pass, for a store written
        before the catalog was kept."""
        names: set[str] = set()
        for stored in self.store.records.scan():
            names.update(stored.record.attributes)
        return names
