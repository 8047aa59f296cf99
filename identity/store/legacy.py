"""Temporary: the area ports over an adapter that still has one method per operation.

Removed once each adapter is a package with one module per area (issue 19).
"""

from __future__ import annotations

from typing import Any

# area -> {port method: adapter method}
AREAS: dict[str, dict[str, str]] = {}
for _old, (_area, _new) in {
    "put_source": ("sources", "put"),
    "get_source": ("sources", "get"),
    "get_sources": ("sources", "get_many"),
    "list_sources": ("sources", "names"),
    "get_meta": ("meta", "get"),
    "set_meta": ("meta", "set"),
    "meta_keys": ("meta", "names"),
    "upsert_records": ("records", "upsert"),
    "get_records": ("records", "get"),
    "record_ids": ("records", "ids"),
    "record_refs": ("records", "refs"),
    "iter_records": ("records", "scan"),
    "iter_record_profiles": ("records", "scan_profiles"),
    "identifiers_of": ("records", "identifiers_of"),
    "identifier_counts": ("records", "identifier_counts"),
    "records_with": ("records", "with_identifiers"),
    "put_identifier_flags": ("records", "put_flags"),
    "identifier_flags": ("records", "flags"),
    "put_match_rows": ("matching", "put_rows"),
    "match_rows_with_keys": ("matching", "rows_with_keys"),
    "match_rows_of": ("matching", "rows_of"),
    "blocking_key_counts": ("matching", "key_counts"),
    "iter_match_rows": ("matching", "scan_rows"),
    "clear_match_rows": ("matching", "clear"),
    "links_of": ("links", "of"),
    "links_of_type": ("links", "of_type"),
    "put_links": ("links", "put"),
    "replace_links": ("links", "replace"),
    "delete_links": ("links", "delete"),
    "profile_ids_of": ("profiles", "ids_of"),
    "records_of_profiles": ("profiles", "records_of"),
    "get_profiles": ("profiles", "get"),
    "resolve_profile_ids": ("profiles", "resolve"),
    "profiles_with": ("profiles", "with_identifiers"),
    "apply_profile_changes": ("profiles", "apply"),
    "profile_change_log": ("profiles", "changes"),
    "iter_profile_ids": ("profiles", "scan_ids"),
    "append_audit": ("audit", "append"),
    "audit_entries": ("audit", "entries"),
    "get_audit_entries": ("audit", "get"),
    "put_events": ("events", "put"),
    "journey": ("events", "journey"),
    "events_of_profiles": ("events", "of_profiles"),
    "profiles_of_events": ("events", "profiles_of"),
    "event_count": ("events", "count"),
    "put_segment": ("segments", "put"),
    "get_segments": ("segments", "get"),
    "delete_segment": ("segments", "delete"),
    "segment_members": ("segments", "members"),
    "segment_sizes": ("segments", "sizes"),
    "memberships_of": ("segments", "memberships_of"),
    "apply_membership_changes": ("segments", "apply_changes"),
    "segment_changes": ("segments", "changes"),
    "last_change_seq": ("segments", "last_change_seq"),
    "iter_profiles": ("copy", "profiles"),
    "iter_identifier_flags": ("copy", "identifier_flags"),
    "iter_links": ("copy", "links"),
    "iter_events": ("copy", "events"),
    "iter_segment_changes": ("copy", "segment_changes"),
    "import_records": ("copy", "import_records"),
    "import_profiles": ("copy", "import_profiles"),
    "import_profile_change_log": ("copy", "import_profile_changes"),
    "import_audit": ("copy", "import_audit"),
    "import_segment_changes": ("copy", "import_segment_changes"),
    "delete_everything": ("copy", "delete_everything"),
}.items():
    AREAS.setdefault(_area, {})[_new] = _old


class _Area:
    def __init__(self, adapter: object, names: dict[str, str]) -> None:
        self._adapter = adapter
        self._names = names

    def __getattr__(self, name: str) -> Any:
        return getattr(self._adapter, self._names[name])


def install(adapter: object) -> None:
    for area, names in AREAS.items():
        setattr(adapter, area, _Area(adapter, names))
