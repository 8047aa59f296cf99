"""The storage contract for sources and metadata: source mappings and meta documents.

Every test runs once per backend (conftest.BACKENDS)."""

from __future__ import annotations

from identity.store.base import Store


def test_source_mappings_are_stored_replaced_and_listed(store: Store) -> None:
    assert store.get_source("crm") is None
    store.put_source("shop", {"source": "shop", "priority": 50})
    store.put_source("crm", {"source": "crm", "priority": 90, "nested": {"a": [1, "é"]}})
    store.put_source("crm", {"source": "crm", "priority": 80})
    assert store.get_source("crm") == {"source": "crm", "priority": 80}
    assert store.list_sources() == ["crm", "shop"]


def test_meta_documents_round_trip(store: Store) -> None:
    assert store.get_meta("model") is None
    store.set_meta("model", {"m": [0.9, 0.1], "fields": ["name"]})
    store.set_meta("model", {"m": [0.8]})
    assert store.get_meta("model") == {"m": [0.8]}


def test_several_source_mappings_are_read_at_once(store: Store) -> None:
    store.put_source("crm", {"source": "crm", "priority": 1})
    store.put_source("shop", {"source": "shop"})
    assert store.get_sources(["shop", "crm", "nosuch", "crm"]) == {
        "crm": {"source": "crm", "priority": 1},
        "shop": {"source": "shop"},
    }
    assert store.get_sources([]) == {}


def test_meta_keys_are_listed_sorted(store: Store) -> None:
    assert store.meta_keys() == []
    store.set_meta("match_model", {"m": [0.9]})
    store.set_meta("a_setting", 1)
    assert store.meta_keys() == ["a_setting", "match_model"]
