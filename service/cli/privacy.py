"""Privacy operations on the command line: erasure, suppression, access requests and
retention (docs/privacy.md)."""

from __future__ import annotations
