"""Reading profiles: by id (following merge redirects) or by any identifier a caller holds."""

from __future__ import annotations

from collections.abc import Sequence

from identity.model import Profile


class ProfileService:
    def get(self, profile_id: str) -> Profile:
        """The live profile with this id or the one it was merged into. Raises UnknownProfile."""
        raise NotImplementedError

    def get_many(self, profile_ids: Sequence[str]) -> list[Profile | None]:
        """Batched :meth:`get` (for DataLoaders): one entry per id, None where unknown."""
        raise NotImplementedError

    def by_identifier(self, kind: str, value: str) -> list[Profile]:
        """Profiles holding the identifier, the value normalised as at ingest.

        Raises InvalidIdentifier for a value that does not normalise and ConfigError for a
        kind the rules do not declare. Sorted by profile id.
        """
        raise NotImplementedError
