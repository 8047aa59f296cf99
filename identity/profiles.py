"""Reading profiles: by id (following merge redirects) or by any identifier a caller holds."""

from __future__ import annotations

from collections.abc import Sequence

from identity.errors import UnknownProfile
from identity.model import IdentifierKey, Profile, ProfileId, ProfileIdentifier, StoredRecord
from identity.normalise import Normaliser
from identity.rules import Rules
from identity.store.base import Store
from identity.survivorship import DEFAULT_PRIORITY, golden_record


class ProfileService:
    """Assembles profiles (records, identifiers, golden record) from the store, batched."""

    def __init__(self, store: Store, rules: Rules, normaliser: Normaliser) -> None:
        self.store = store
        self.rules = rules
        self.normaliser = normaliser

    def get(self, profile_id: str) -> Profile:
        """The live profile with this id or the one it was merged into. Raises UnknownProfile."""
        found = self.get_many([profile_id])[0]
        if found is None:
            raise UnknownProfile(profile_id)
        return found

    def get_many(
        self, profile_ids: Sequence[str], golden: bool = True, identifiers: bool = True
    ) -> list[Profile | None]:
        """Batched :meth:`get` (for DataLoaders): one entry per id, None where unknown.

        ``golden`` / ``identifiers`` False leave the golden record / the identifier list
        empty, for callers that read only the records (half the cost of a profile)."""
        with self.store.reading():
            return self._get_many(profile_ids, golden, identifiers)

    def _get_many(
        self, profile_ids: Sequence[str], golden: bool, identifiers: bool
    ) -> list[Profile | None]:
        store = self.store
        resolved = store.profiles.resolve(profile_ids)
        live = sorted(set(resolved.values()))
        rows = store.profiles.get(live)
        members = store.profiles.records_of(live)
        record_ids = [rid for ids in members.values() for rid in ids]
        records = store.records.get(record_ids)
        counts: dict[IdentifierKey, int] = {}
        if identifiers:
            keys = {i.key for r in records.values() for i in r.record.identifiers}
            counts = store.records.identifier_counts(keys)
        priorities = self._priorities({r.record.source for r in records.values()}) if golden else {}
        built: dict[ProfileId, Profile] = {}
        for pid in live:
            row = rows.get(pid)
            if row is None:
                continue
            recs = sorted(
                (records[r] for r in members.get(pid, []) if r in records), key=lambda r: r.ref
            )
            built[pid] = Profile(
                id=pid,
                created_at=row.created_at,
                updated_at=row.updated_at,
                merged_from=row.merged_from,
                records=tuple(recs),
                attributes=(
                    golden_record(recs, priorities, self.rules.survivorship) if golden else ()
                ),
                identifiers=self._identifiers(recs, counts) if identifiers else (),
                split_from=row.split_from,
            )
        return [built.get(resolved.get(pid, "")) for pid in profile_ids]

    def by_identifier(self, kind: str, value: str) -> list[Profile]:
        """Profiles holding the identifier, the value normalised as at ingest.

        Raises InvalidIdentifier for a value that does not normalise and ConfigError for a
        kind the rules do not declare. Sorted by profile id. Phone numbers must be given
        in international form (+CC...), as no source region applies.
        """
        with self.store.reading():
            return [p for p in self.get_many(self.ids_by_identifier(kind, value)) if p is not None]

    def ids_by_identifier(self, kind: str, value: str) -> list[ProfileId]:
        """The ids of the profiles :meth:`by_identifier` gives. Raises as it does."""
        key = self.normaliser.identifier(kind, value).key
        with self.store.reading():
            return list(self.store.profiles.with_identifiers([key]).get(key, []))

    def records_of(self, profile_ids: Sequence[ProfileId]) -> dict[ProfileId, list[StoredRecord]]:
        """The records of live profiles (ids as given, not followed through merges), by
        (source, key); an id without records maps to []."""
        with self.store.reading():
            members = self.store.profiles.records_of(profile_ids)
            records = self.store.records.get([r for ids in members.values() for r in ids])
        return {
            pid: sorted(
                (records[r] for r in members.get(pid, []) if r in records), key=lambda r: r.ref
            )
            for pid in profile_ids
        }

    def _priorities(self, sources: set[str]) -> dict[str, int]:
        priorities: dict[str, int] = {}
        docs = self.store.sources.get_many(sources)
        for name in sources:
            raw = docs[name].get("priority") if name in docs else None
            priorities[name] = raw if isinstance(raw, int) else DEFAULT_PRIORITY
        return priorities

    def _identifiers(
        self, records: Sequence[StoredRecord], counts: dict[IdentifierKey, int]
    ) -> tuple[ProfileIdentifier, ...]:
        originals: dict[IdentifierKey, list[str]] = {}
        holders: dict[IdentifierKey, int] = {}
        for stored in records:
            for ident in stored.record.identifiers:
                seen = originals.setdefault(ident.key, [])
                if ident.original not in seen:
                    seen.append(ident.original)
                holders[ident.key] = holders.get(ident.key, 0) + 1
        result = []
        for key in sorted(originals, key=lambda k: (-self._priority(k.kind), k.kind, k.value)):
            rule = self.rules.kinds.get(key.kind)
            links = (
                rule is not None and self.rules.link_block_reason(key, counts.get(key, 0)) is None
            )
            result.append(
                ProfileIdentifier(key.kind, key.value, tuple(originals[key]), holders[key], links)
            )
        return tuple(result)

    def _priority(self, kind: str) -> int:
        rule = self.rules.kinds.get(kind)
        return rule.priority if rule else 0
