"""The ``[households]`` section of the rules file: which shared evidence makes two profiles
one household, and how large a household may be. Validated at load (ConfigError naming
the field); docs/households.md explains each choice."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from identity.config_tables import only_settings, positive_int
from identity.errors import ConfigError

SHARED_ADDRESS_SURNAME = "shared_address_surname"
SHARED_LANDLINE = "shared_landline"
SHARED_EMAIL = "shared_email"
STEWARD = "steward"
"""Evidence a steward gave (a join); not configurable."""
EVIDENCE_TYPES: tuple[str, ...] = (SHARED_ADDRESS_SURNAME, SHARED_LANDLINE, SHARED_EMAIL)
DEFAULT_MAX_MEMBERS = 8


@dataclass(frozen=True, slots=True)
class HouseholdRules:
    """Which evidence joins two profiles into a household, and the largest household."""

    enabled: bool = True
    evidence: tuple[str, ...] = EVIDENCE_TYPES
    max_members: int = DEFAULT_MAX_MEMBERS
    """A group of more profiles is not one household (a care home, a student hall, a
    block of flats sharing a switchboard number): it is dropped whole, and counted."""
    surname: str = "last_name"
    """The golden attribute holding the family name."""
    address: str = "address"
    """The golden attribute holding the street address (house number and street)."""
    postcode: str = "postcode"
    """The golden attribute holding the postcode; compared with the address when present."""
    phone_kinds: tuple[str, ...] = ("phone",)
    """Identifier kinds whose fixed-line numbers a household shares."""
    email_kinds: tuple[str, ...] = ("email",)
    """Identifier kinds whose shared values (held by several profiles) a household shares."""
    family_emails: frozenset[str] = frozenset()
    """Addresses flagged as a family's, not a person's (normalised by the rules file's
    loader): they never join records as one person, as if blocklisted, and the profiles
    holding one are a household (shared_email evidence)."""

    def is_family_email(self, kind: str, value: str) -> bool:
        return kind in self.email_kinds and value in self.family_emails


def household_rules(doc: object, kinds: Mapping[str, Any], path: str) -> HouseholdRules:
    """Validate the ``[households]`` table; ``kinds`` are the declared identifier kinds."""
    if not isinstance(doc, Mapping):
        raise ConfigError("must be a table", path=path, field="households")
    only_settings(
        doc,
        {
            "enabled",
            "evidence",
            "max_members",
            "surname",
            "address",
            "postcode",
            "phone_kinds",
            "email_kinds",
            "family_emails",
        },
        path,
        "households.",
    )
    enabled = doc.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError("must be true or false", path=path, field="households.enabled")
    evidence = _names(doc.get("evidence", list(EVIDENCE_TYPES)), path, "households.evidence")
    for name in evidence:
        if name not in EVIDENCE_TYPES:
            raise ConfigError(
                f"unknown evidence {name!r}; known: {', '.join(EVIDENCE_TYPES)}",
                path=path,
                field="households.evidence",
            )
    defaults = HouseholdRules()
    phone_kinds = _kinds(doc, "phone_kinds", defaults.phone_kinds, kinds, path)
    email_kinds = _kinds(doc, "email_kinds", defaults.email_kinds, kinds, path)
    for kind in phone_kinds:
        if getattr(kinds[kind], "normaliser", None) != "phone":
            raise ConfigError(
                f"{kind!r} is not normalised as a phone number: only numbers can be landlines",
                path=path,
                field="households.phone_kinds",
            )
    return HouseholdRules(
        enabled=enabled,
        evidence=evidence,
        max_members=_at_least_two(doc.get("max_members", DEFAULT_MAX_MEMBERS), path),
        surname=_attribute(doc, "surname", defaults.surname, path),
        address=_attribute(doc, "address", defaults.address, path),
        postcode=_attribute(doc, "postcode", defaults.postcode, path),
        phone_kinds=phone_kinds,
        email_kinds=email_kinds,
        family_emails=frozenset(
            _names(doc.get("family_emails", []), path, "households.family_emails")
        ),
    )


def _names(value: object, path: str, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError("must be a list of names", path=path, field=name)
    return tuple(dict.fromkeys(value))


def _kinds(
    doc: Mapping[str, Any],
    name: str,
    default: tuple[str, ...],
    kinds: Collection[str],
    path: str,
) -> tuple[str, ...]:
    where = f"households.{name}"
    if name not in doc:
        # The packaged defaults name kinds a deployment may not declare: left out then.
        return tuple(k for k in default if k in kinds)
    found = _names(doc[name], path, where)
    for kind in found:
        if kind not in kinds:
            raise ConfigError(
                f"{kind!r} is not a declared identifier kind; declared: {', '.join(kinds)}",
                path=path,
                field=where,
            )
    return found


def _attribute(doc: Mapping[str, Any], name: str, default: str, path: str) -> str:
    value = doc.get(name, default)
    if not isinstance(value, str) or not value:
        raise ConfigError("must be an attribute name", path=path, field=f"households.{name}")
    return value


def _at_least_two(value: object, path: str) -> int:
    count = positive_int(value, path, "households.max_members")
    if count < 2:
        raise ConfigError(
            "must be at least 2: a household of one pairs no one",
            path=path,
            field="households.max_members",
        )
    return count
