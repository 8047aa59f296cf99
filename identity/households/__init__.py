"""Households: relationships between profiles (people living together), never a merge.

``rules`` holds the ``[households]`` section of the rules file, ``derivation`` finds
households from the profile read model, ``service`` rebuilds, reads, exports and corrects
them through :class:`~identity.store.ports.HouseholdPort`. Nothing here imports the rest
of the package at import time, so :mod:`identity.rules` can read the section's rules.
"""
