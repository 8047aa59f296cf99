"""The storage contract for sources and metadata: source mappings and meta documents.

Every test runs once per backend (conftest.BACKENDS)."""

from __future__ import annotations

from identity.store.base import Store


def test_source_mappings_are_stored_replaced_and_listed(store: Store) -> None:
    assert store.sources.get("crm") is None
    store.sources.put("shop", {"source": "shop", "priority": 50})
    store.sources.put("crm", {"source": "crm", "priority": 90, "nested": {"a": [1, "é"]}})
    store.sources.put("crm", {"source": "crm", "priority": 80})
    assert store.sources.get("crm") == {"source": "crm", "priority": 80}
    assert store.sources.names() == ["crm", "shop"]


def test_meta_documents_round_trip(store: Store) -> None:
    assert store.meta.get("model") is None
    store.meta.set("model", {"m": [0.9, 0.1], "fields": ["name"]})
    store.meta.set("model", {"m": [0.8]})
    assert store.meta.get("model") == {"m": [0.8]}


def test_several_source_mappings_are_read_at_once(store: Store) -> None:
    store.sources.put("crm", {"source": "crm", "priority": 1})
    store.sources.put("shop", {"source": "shop"})
    assert store.sources.get_many(["shop", "crm", "nosuch", "crm"]) == {
        "crm": {"source": "crm", "priority": 1},
        "shop": {"source": "shop"},
    }
    assert store.sources.get_many([]) == {}


def test_meta_keys_are_listed_sorted(store: Store) -> None:
    # A new store holds only the marker saying its (empty) profile read model is complete.
    assert store.meta.names() == ["profile_view"]
    assert store.meta.get("profile_view") == "new"
    store.meta.set("match_model", {"m": [0.9]})
    store.meta.set("a_setting", 1)
    assert store.meta.names() == ["a_setting", "match_model", "profile_view"]
