"""Storage: one interface (:mod:`identity.store.base`) and one adapter per backend."""

from identity.store.base import Store
from identity.store.factory import open_store

__all__ = ["Store", "open_store"]
