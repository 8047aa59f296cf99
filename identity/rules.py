"""Identity rules: which identifier kinds exist, how each normalises and links, junk values,
how the golden record is chosen, and which values are personal. Loaded from a TOML file
and validated at load.

The packaged default is ``identity/config/rules.toml``; docs/sources.md documents the format.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

from identity.errors import ConfigError, UnknownIdentifierKind
from identity.limits import MAX_NUMBER, FieldLimits, InputLimits
from identity.model import IdentifierFlagReason, IdentifierKey
from identity.privacy import (
    PersonalNames,
    PersonalValue,
    PersonalValues,
    name_words,
    unknown_phone_regions,
)

NormaliserName = Literal["email", "phone", "id"]
CaseRule = Literal["upper", "lower", "keep"]
NORMALISERS: tuple[str, ...] = ("email", "phone", "id")
CASES: tuple[str, ...] = ("upper", "lower", "keep")
SURVIVORSHIP_RULES: tuple[str, ...] = ("source_priority", "most_recent", "most_frequent")
DEFAULT_CARDINALITY_CAP = 25
ANY_KIND = "any"


@dataclass(frozen=True, slots=True)
class EmailProvider:
    """Canonicalisation for one mail provider's addresses (e.g. gmail ignores dots)."""

    domain: str
    remove_dots: bool = False
    remove_plus_tag: bool = False
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class KindRule:
    """How one identifier kind is normalised and whether and how strongly it links."""

    kind: str
    normaliser: NormaliserName
    case: CaseRule = "keep"
    links: bool = True
    priority: int = 50
    max_per_profile: int | None = None
    cardinality_cap: int = DEFAULT_CARDINALITY_CAP
    providers: Mapping[str, EmailProvider] = field(default_factory=dict)
    """Email providers by domain, aliases included (``googlemail.com`` -> gmail's rule)."""
    same_attribute: str | None = None
    """An attribute (e.g. ``first_name``) that records sharing a value of this kind must
    not disagree on to be linked by it: a household phone is shared by people with
    different first names. Compared as normalised names."""
    bridges: bool = True
    """Whether a shared value may join two records that each already belong to someone
    known (hold a linking identifier of a bridging kind). False for anonymous kinds: a
    family tablet's device id attaches a login to its person but never joins the two
    people who log in on it."""


@dataclass(frozen=True, slots=True)
class SurvivorshipRules:
    """The order in which survivorship rules are applied, by default and per attribute."""

    default: tuple[str, ...] = SURVIVORSHIP_RULES
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def rules_for(self, attribute: str) -> tuple[str, ...]:
        return self.attributes.get(attribute, self.default)


@dataclass(frozen=True, slots=True)
class SortedNeighbourhoodRule:
    """A blocking rule by sorted neighbourhood: records are sorted by ``key`` and each is
    paired with the records whose key is among the ``window`` nearest distinct values
    around its own (recordlinkage's SortedNeighbourhood), within equal ``block_on`` keys.
    It finds what exact blocking misses when the key has a typo (``smith``/``smiht``
    sort apart only if the typo is early in the word)."""

    key: str
    window: int = 3
    block_on: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key the rule reads: the sorting key, then the exact ones."""
        return (self.key, *self.block_on)


BlockingRule = tuple[str, ...] | SortedNeighbourhoodRule
"""Records are candidates when they share every key of a tuple rule, or are neighbours
under a sorted-neighbourhood rule."""

DEFAULT_MAX_BLOCK_SIZE = 2000


def rule_keys(rule: BlockingRule) -> tuple[str, ...]:
    """The keys a blocking rule reads (for a sorted neighbourhood: sorting key first)."""
    return rule.keys if isinstance(rule, SortedNeighbourhoodRule) else rule


@dataclass(frozen=True, slots=True)
class MatchingRules:
    """The probabilistic matcher's configuration: compared fields, blocking, thresholds.

    A field is an attribute name or an identifier kind; its value is the comparison kind
    (see :data:`identity.matching.comparisons.KINDS`). Checked in full when the matcher is
    built, so this module stays free of the matching libraries.
    """

    fields: Mapping[str, str]
    blocking: tuple[BlockingRule, ...]
    link_threshold: float = 0.95
    review_threshold: float = 0.6
    require_agreement: tuple[str, ...] = ()
    """Fields that must not disagree outright (fall to their last level) for a pair to
    link; such a pair goes to review at most. Household members share a surname, an
    address and a phone, and differ in first name."""
    max_block_size: int = DEFAULT_MAX_BLOCK_SIZE
    """A blocking key held by more records than this gives no candidates (a shop's own
    phone number on thousands of receipts would otherwise pair them all)."""


DEFAULT_PURPOSES: tuple[str, ...] = ("email", "sms", "ads", "personalisation")


@dataclass(frozen=True, slots=True)
class EventRules:
    """How events join identities and feed traits and consent."""

    stitch_types: tuple[str, ...] = ("login", "signup", "checkout", "purchase")
    """Event types that join the anonymous identifiers they carry (a cookie, a device) to
    the identity of the known ones they carry with them (an e-mail, a customer id)."""
    anonymous_kinds: tuple[str, ...] = ("cookie_id", "device_id")
    order_types: tuple[str, ...] = ("purchase",)
    """Event types that are orders, for the order count and monetary traits."""
    order_value: str = "order_value"
    """The property holding an order's value."""
    consent_type: str = "consent"
    """The event type of consent statements: properties ``purpose`` and ``granted``."""
    purposes: tuple[str, ...] = DEFAULT_PURPOSES
    """The purposes consent is given or withdrawn for."""


MASK_STYLES: tuple[str, ...] = ("hidden", "initial", "date", "year", "email", "phone", "tail")
"""How a personal attribute may be shown to a caller without the right to read it; the
service draws them (``service/masking.py``), the rules only name them."""
DEFAULT_PII_KINDS: tuple[str, ...] = ("email", "phone", "loyalty_id", "device_id", "cookie_id")
DEFAULT_PII_ATTRIBUTES: tuple[str, ...] = (
    "first_name",
    "middle_name",
    "last_name",
    "name",
    "full_name",
    "birth_date",
    "address",
    "address_line",
    "address_line1",
    "address_line2",
    "street",
    "postcode",
    "zip",
    "email",
    "phone",
)
DEFAULT_MASKS: Mapping[str, str] = {
    "first_name": "initial",
    "middle_name": "initial",
    "last_name": "initial",
    "name": "initial",
    "full_name": "initial",
    "birth_date": "date",
    "email": "email",
    "phone": "phone",
}
DEFAULT_SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "email": ("email", "e-mail", "mail"),
    "phone": ("phone", "mobile", "tel", "telephone", "cell"),
    "postcode": ("postcode", "post code", "postal code", "zip", "zip code"),
    "address": ("address", "addr", "street", "house number"),
    "name": (
        "name",
        "first name",
        "last name",
        "full name",
        "given name",
        "family name",
        "middle name",
        "maiden name",
        "surname",
        "forename",
        "user name",
        "nick name",
    ),
    "birth_date": ("birth", "birth date", "date of birth", "dob", "birthday"),
}
"""See identity/config/rules.toml for why these words and this order."""
DEFAULT_THINGS: tuple[str, ...] = (
    "product",
    "item",
    "sku",
    "brand",
    "category",
    "variant",
    "campaign",
    "promo",
    "promotion",
    "coupon",
    "offer",
    "experiment",
    "company",
    "business",
    "organisation",
    "organization",
    "merchant",
    "vendor",
    "supplier",
    "store",
    "shop",
    "hotel",
    "venue",
    "restaurant",
    "bank",
    "carrier",
    "event",
    "page",
    "screen",
    "app",
    "site",
    "website",
    "domain",
    "file",
    "list",
    "segment",
    "plan",
    "template",
    "step",
    "form",
    "field",
    "channel",
    "city",
    "town",
    "country",
    "region",
)
DEFAULT_PHONE_REGIONS: tuple[str, ...] = ("GB",)


@dataclass(frozen=True, slots=True)
class PrivacyRules:
    """Which values are personal: shown masked to callers who may not read them.

    Names are matched by their words and values by what they are (``identity/privacy.py``);
    the matchers are built here, once per rules.
    """

    pii_kinds: frozenset[str] = frozenset()
    """Identifier kinds whose values are personal."""
    pii_attributes: frozenset[str] = frozenset()
    """Attribute names (and event property names) whose values are personal."""
    masks: Mapping[str, str] = field(default_factory=dict)
    """How a personal attribute is masked (one of :data:`MASK_STYLES`); ``hidden`` when
    not named."""
    synonyms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Personal attribute or kind -> words that name it in a field name (``email`` ->
    ``e-mail``, ``mail``); a field whose name holds one is masked as that attribute.
    Tried in order: the first group found wins."""
    things: frozenset[str] = frozenset()
    """Words that name a thing, not a person: a synonym right after one does not count
    (``product_name``, ``store_phone``)."""
    phone_regions: tuple[str, ...] = ()
    """Regions whose national phone numbers are found in text (``07400 123456`` for GB);
    numbers in international form (``+44 7400 123456``) are found whatever the region."""
    names: PersonalNames = field(init=False, repr=False, compare=False)
    values: PersonalValues = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        personal = self.pii_kinds | self.pii_attributes
        object.__setattr__(self, "names", PersonalNames(personal, self.synonyms, self.things))
        object.__setattr__(self, "values", PersonalValues(self.phone_regions))

    def personal_field(self, name: str) -> str | None:
        """The personal attribute or kind a field named ``name`` is masked as, or None:
        ``customer_email`` -> ``email``, ``FirstName`` -> ``first_name``."""
        return self.names.personal(name)

    def is_personal(self, name: str) -> bool:
        """Whether a field named ``name`` (an identifier kind or an attribute) is personal."""
        return self.personal_field(name) is not None

    def mask_of(self, attribute: str) -> str:
        return self.masks.get(attribute, "hidden")

    def personal_values(self, text: str) -> list[PersonalValue]:
        """The e-mail addresses and phone numbers in ``text``, whatever field it is in."""
        return self.values.find(text)


@dataclass(frozen=True, slots=True)
class Rules:
    """Every identity rule of a deployment."""

    kinds: Mapping[str, KindRule]
    cardinality_cap: int = DEFAULT_CARDINALITY_CAP
    blocklist: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Normalised junk values per kind; the ``any`` entry holds raw values for every kind,
    compared case-insensitively after trimming."""
    survivorship: SurvivorshipRules = field(default_factory=SurvivorshipRules)
    matching: MatchingRules | None = None
    """None: only deterministic matching."""
    events: EventRules = field(default_factory=EventRules)
    privacy: PrivacyRules = field(default_factory=PrivacyRules)
    limits: InputLimits = field(default_factory=InputLimits)
    """What an input row may hold (nesting, characters, string and number sizes)."""

    def kind(self, name: str) -> KindRule:
        """The rule of a declared kind. Raises UnknownIdentifierKind naming the declared
        kinds (mappings, events and segments check their kinds at load, with their own
        ConfigError; this is the lookup's)."""
        rule = self.kinds.get(name)
        if rule is None:
            raise UnknownIdentifierKind(name, list(self.kinds))
        return rule

    def is_blocklisted(self, key: IdentifierKey) -> bool:
        if key.value in self.blocklist.get(key.kind, frozenset()):
            return True
        return key.value.strip().casefold() in self.blocklist.get(ANY_KIND, frozenset())

    def link_block_reason(self, key: IdentifierKey, count: int) -> IdentifierFlagReason | None:
        """Why an identifier carried by ``count`` records does not link, or None if it links."""
        if self.is_blocklisted(key):
            return IdentifierFlagReason.BLOCKLISTED
        rule = self.kinds.get(key.kind)
        if rule is not None and count > rule.cardinality_cap:
            return IdentifierFlagReason.OVER_CAP
        return None

    @classmethod
    def from_document(cls, doc: Mapping[str, Any], path: str = "rules") -> Rules:
        """Validate a parsed rules document. Raises ConfigError naming the field and the fix."""
        _only(
            doc,
            {
                "cardinality_cap",
                "kinds",
                "blocklist",
                "survivorship",
                "matching",
                "events",
                "privacy",
                "limits",
            },
            path,
            "",
        )
        default_cap = _positive_int(
            doc.get("cardinality_cap", DEFAULT_CARDINALITY_CAP), path, "cardinality_cap"
        )
        raw_kinds = doc.get("kinds")
        if not isinstance(raw_kinds, Mapping) or not raw_kinds:
            raise ConfigError(
                "declare at least one identifier kind as a [kinds.NAME] table",
                path=path,
                field="kinds",
            )
        kinds = {
            name: _kind_rule(name, spec, default_cap, path) for name, spec in raw_kinds.items()
        }
        return cls(
            kinds=kinds,
            cardinality_cap=default_cap,
            blocklist=_blocklist(doc.get("blocklist", {}), kinds, path),
            survivorship=_survivorship(doc.get("survivorship", {}), path),
            matching=_matching(doc.get("matching"), path),
            events=_events(doc.get("events", {}), kinds, path),
            privacy=_privacy(doc.get("privacy", {}), kinds, path),
            limits=_limits(doc.get("limits", {}), path),
        )


def load_rules(path: Path | None = None) -> Rules:
    """Load and validate a rules file, or the packaged default when ``path`` is None."""
    if path is None:
        text = resources.files("identity").joinpath("config/rules.toml").read_text("utf-8")
        where = "identity/config/rules.toml"
    else:
        try:
            text = path.read_text("utf-8")
        except OSError as error:
            raise ConfigError(
                f"cannot read the rules file: {error.strerror}", path=str(path)
            ) from error
        where = str(path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"not valid TOML: {error}", path=where) from error
    return Rules.from_document(doc, path=where)


# -- validation helpers ---------------------------------------------------------------------


def _only(doc: Mapping[str, Any], allowed: set[str], path: str, prefix: str) -> None:
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise ConfigError(
            f"unknown setting; allowed here: {', '.join(sorted(allowed))}",
            path=path,
            field=prefix + unknown[0],
        )


def _positive_int(value: object, path: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"must be a positive integer, got {value!r}", path=path, field=name)
    return value


def _kind_rule(name: str, spec: object, default_cap: int, path: str) -> KindRule:
    where = f"kinds.{name}"
    if name == ANY_KIND:
        raise ConfigError(f"'{ANY_KIND}' is reserved for the blocklist", path=path, field=where)
    if not isinstance(spec, Mapping):
        raise ConfigError("must be a table", path=path, field=where)
    _only(
        spec,
        {
            "normaliser",
            "case",
            "links",
            "priority",
            "max_per_profile",
            "cardinality_cap",
            "providers",
            "same_attribute",
            "bridges",
        },
        path,
        where + ".",
    )
    normaliser = spec.get("normaliser")
    if normaliser not in NORMALISERS:
        raise ConfigError(
            f"normaliser must be one of {', '.join(NORMALISERS)}, got {normaliser!r}",
            path=path,
            field=f"{where}.normaliser",
        )
    case = spec.get("case", "lower" if normaliser == "email" else "keep")
    if case not in CASES:
        raise ConfigError(
            f"case must be one of {', '.join(CASES)}, got {case!r}",
            path=path,
            field=f"{where}.case",
        )
    links = spec.get("links", True)
    if not isinstance(links, bool):
        raise ConfigError("must be true or false", path=path, field=f"{where}.links")
    bridges = spec.get("bridges", True)
    if not isinstance(bridges, bool):
        raise ConfigError("must be true or false", path=path, field=f"{where}.bridges")
    priority = spec.get("priority", 50)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise ConfigError("must be an integer", path=path, field=f"{where}.priority")
    limit = spec.get("max_per_profile")
    if limit is not None:
        limit = _positive_int(limit, path, f"{where}.max_per_profile")
    cap = _positive_int(spec.get("cardinality_cap", default_cap), path, f"{where}.cardinality_cap")
    providers: dict[str, EmailProvider] = {}
    raw_providers = spec.get("providers", {})
    if raw_providers and normaliser != "email":
        raise ConfigError(
            "providers only apply to the email normaliser", path=path, field=f"{where}.providers"
        )
    if not isinstance(raw_providers, Mapping):
        raise ConfigError("must be a table of domains", path=path, field=f"{where}.providers")
    for domain, pspec in raw_providers.items():
        pwhere = f"{where}.providers.{domain}"
        if not isinstance(pspec, Mapping):
            raise ConfigError("must be a table", path=path, field=pwhere)
        _only(pspec, {"remove_dots", "remove_plus_tag", "aliases"}, path, pwhere + ".")
        aliases = pspec.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise ConfigError("must be a list of domains", path=path, field=f"{pwhere}.aliases")
        provider = EmailProvider(
            domain=domain.lower(),
            remove_dots=bool(pspec.get("remove_dots", False)),
            remove_plus_tag=bool(pspec.get("remove_plus_tag", False)),
            aliases=tuple(a.lower() for a in aliases),
        )
        for d in (provider.domain, *provider.aliases):
            providers[d] = provider
    return KindRule(
        kind=name,
        normaliser=cast(NormaliserName, normaliser),
        case=cast(CaseRule, case),
        links=links,
        priority=priority,
        max_per_profile=limit,
        cardinality_cap=cap,
        providers=providers,
        same_attribute=_optional_name(spec.get("same_attribute"), path, f"{where}.same_attribute"),
        bridges=bridges,
    )


def _optional_name(value: object, path: str, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"must be an attribute name, got {value!r}", path=path, field=name)
    return value.strip()


def _blocklist(raw: object, kinds: Mapping[str, KindRule], path: str) -> dict[str, frozenset[str]]:
    # Imported here: normalise depends on this module's types.
    from identity.errors import InvalidIdentifier
    from identity.normalise import Normaliser

    if not isinstance(raw, Mapping):
        raise ConfigError("must be a table of kind = [values]", path=path, field="blocklist")
    normaliser = Normaliser(Rules(kinds=kinds))
    result: dict[str, frozenset[str]] = {}
    for kind, values in raw.items():
        where = f"blocklist.{kind}"
        if kind != ANY_KIND and kind not in kinds:
            raise ConfigError(
                f"unknown identifier kind; declared: {', '.join(sorted(kinds))} (or '{ANY_KIND}')",
                path=path,
                field=where,
            )
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ConfigError("must be a list of strings", path=path, field=where)
        if kind == ANY_KIND:
            result[kind] = frozenset(v.strip().casefold() for v in values)
            continue
        normalised = set()
        for value in values:
            try:
                normalised.add(normaliser.identifier(kind, value).value)
            except InvalidIdentifier:
                # A junk value that does not even normalise can never become an identifier;
                # keep it verbatim so the list still documents it.
                normalised.add(value)
        result[kind] = frozenset(normalised)
    return result


def _survivorship(raw: object, path: str) -> SurvivorshipRules:
    if not isinstance(raw, Mapping):
        raise ConfigError("must be a table", path=path, field="survivorship")
    _only(raw, {"default", "attributes"}, path, "survivorship.")

    def order(value: object, where: str) -> tuple[str, ...]:
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v in SURVIVORSHIP_RULES for v in value)
        ):
            raise ConfigError(
                f"must be a list of rules from {', '.join(SURVIVORSHIP_RULES)}",
                path=path,
                field=where,
            )
        return tuple(cast(Sequence[str], value))

    default = order(raw.get("default", list(SURVIVORSHIP_RULES)), "survivorship.default")
    attributes_raw = raw.get("attributes", {})
    if not isinstance(attributes_raw, Mapping):
        raise ConfigError("must be a table", path=path, field="survivorship.attributes")
    attributes = {
        name: order(value, f"survivorship.attributes.{name}")
        for name, value in attributes_raw.items()
    }
    return SurvivorshipRules(default=default, attributes=attributes)


def _matching(doc: object, path: str) -> MatchingRules | None:
    if doc is None:
        return None
    if not isinstance(doc, Mapping):
        raise ConfigError("must be a [matching] table", path=path, field="matching")
    _only(
        doc,
        {
            "fields",
            "blocking",
            "link_threshold",
            "review_threshold",
            "require_agreement",
            "max_block_size",
        },
        path,
        "matching.",
    )
    fields = doc.get("fields")
    if not isinstance(fields, Mapping) or not fields:
        raise ConfigError(
            'list the compared fields, e.g. last_name = "name"', path=path, field="matching.fields"
        )
    for name, kind in fields.items():
        if not isinstance(kind, str):
            raise ConfigError(
                "must be a comparison kind", path=path, field=f"matching.fields.{name}"
            )
    blocking = doc.get("blocking")
    if not isinstance(blocking, list) or not blocking:
        raise ConfigError(
            'must be a list of rules, each a list of keys, e.g. [["last_name:sound"], ["email"]]'
            ' or a sorted neighbourhood, e.g. { sorted_neighbourhood = "last_name", window = 5 }',
            path=path,
            field="matching.blocking",
        )
    rules = tuple(_blocking_rule(rule, path, number) for number, rule in enumerate(blocking, 1))
    max_block_size = _positive_int(
        doc.get("max_block_size", DEFAULT_MAX_BLOCK_SIZE), path, "matching.max_block_size"
    )
    thresholds: dict[str, float] = {}
    for name, default in (("link_threshold", 0.95), ("review_threshold", 0.6)):
        value = doc.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
            raise ConfigError(
                f"must be a probability between 0 and 1, got {value!r}",
                path=path,
                field=f"matching.{name}",
            )
        thresholds[name] = float(value)
    if thresholds["review_threshold"] > thresholds["link_threshold"]:
        raise ConfigError(
            "must not exceed link_threshold", path=path, field="matching.review_threshold"
        )
    required = doc.get("require_agreement", [])
    if not isinstance(required, list) or any(name not in fields for name in required):
        raise ConfigError(
            "must be a list of compared fields", path=path, field="matching.require_agreement"
        )
    return MatchingRules(
        fields=dict(fields),
        blocking=rules,
        require_agreement=tuple(required),
        max_block_size=max_block_size,
        **thresholds,
    )


def _events(doc: object, kinds: Mapping[str, KindRule], path: str) -> EventRules:
    if not isinstance(doc, Mapping):
        raise ConfigError("must be an [events] table", path=path, field="events")
    fields = set(EventRules.__dataclass_fields__)
    _only(doc, fields, path, "events.")
    default = EventRules()

    def names(name: str) -> tuple[str, ...]:
        value = doc.get(name, list(getattr(default, name)))
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError("must be a list of names", path=path, field=f"events.{name}")
        return tuple(value)

    def name(name: str) -> str:
        value = doc.get(name, getattr(default, name))
        if not isinstance(value, str) or not value:
            raise ConfigError("must be a non-empty name", path=path, field=f"events.{name}")
        return value

    anonymous = names("anonymous_kinds")
    if "anonymous_kinds" not in doc:
        # The defaults apply to the kinds this deployment declares.
        anonymous = tuple(k for k in anonymous if k in kinds)
    for kind in anonymous:
        if kind not in kinds:
            raise ConfigError(
                f"'{kind}' is not a declared identifier kind ({', '.join(sorted(kinds))})",
                path=path,
                field="events.anonymous_kinds",
            )
    purposes = names("purposes")
    if not purposes:
        raise ConfigError("name at least one purpose", path=path, field="events.purposes")
    return EventRules(
        stitch_types=names("stitch_types"),
        anonymous_kinds=anonymous,
        order_types=names("order_types"),
        order_value=name("order_value"),
        consent_type=name("consent_type"),
        purposes=purposes,
    )


def _privacy(doc: object, kinds: Mapping[str, KindRule], path: str) -> PrivacyRules:
    if not isinstance(doc, Mapping):
        raise ConfigError("must be a [privacy] table", path=path, field="privacy")
    _only(
        doc,
        {"pii_kinds", "pii_attributes", "masks", "synonyms", "things", "phone_regions"},
        path,
        "privacy.",
    )

    def names(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = doc.get(name, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError("must be a list of names", path=path, field=f"privacy.{name}")
        return tuple(value)

    pii_kinds = names("pii_kinds", DEFAULT_PII_KINDS)
    if "pii_kinds" not in doc:
        # The defaults apply to the kinds this deployment declares.
        pii_kinds = tuple(k for k in pii_kinds if k in kinds)
    for kind in pii_kinds:
        if kind not in kinds:
            raise ConfigError(
                f"'{kind}' is not a declared identifier kind ({', '.join(sorted(kinds))})",
                path=path,
                field="privacy.pii_kinds",
            )
    pii_attributes = names("pii_attributes", DEFAULT_PII_ATTRIBUTES)
    raw_masks = doc.get("masks")
    if raw_masks is None:
        raw_masks = {a: m for a, m in DEFAULT_MASKS.items() if a in pii_attributes}
    if not isinstance(raw_masks, Mapping):
        raise ConfigError(
            'must be a table of attribute = mask, e.g. first_name = "initial"',
            path=path,
            field="privacy.masks",
        )
    masks: dict[str, str] = {}
    for attribute, style in raw_masks.items():
        where = f"privacy.masks.{attribute}"
        if attribute not in pii_attributes:
            raise ConfigError(
                "only personal attributes are masked: add it to privacy.pii_attributes "
                "or remove it here",
                path=path,
                field=where,
            )
        if style not in MASK_STYLES:
            raise ConfigError(
                f"must be one of {', '.join(MASK_STYLES)}, got {style!r}", path=path, field=where
            )
        masks[attribute] = style
    personal = {*pii_kinds, *pii_attributes}
    things = names("things", DEFAULT_THINGS)
    for thing in things:
        if name_words(thing) != (thing.casefold(),):
            raise ConfigError(
                f'must be a list of single words, e.g. "product"; {thing!r} is not one',
                path=path,
                field="privacy.things",
            )
    regions = tuple(r.upper() for r in names("phone_regions", DEFAULT_PHONE_REGIONS))
    unknown = unknown_phone_regions(regions)
    if unknown:
        raise ConfigError(
            f"unknown phone region {unknown[0]!r}; use an ISO 3166 code like 'GB' or 'DE'",
            path=path,
            field="privacy.phone_regions",
        )
    return PrivacyRules(
        pii_kinds=frozenset(pii_kinds),
        pii_attributes=frozenset(pii_attributes),
        masks=masks,
        synonyms=_synonyms(doc.get("synonyms"), personal, path),
        things=frozenset(t.casefold() for t in things),
        phone_regions=regions,
    )


def _synonyms(raw: object, personal: set[str], path: str) -> dict[str, tuple[str, ...]]:
    if raw is None:
        # The defaults apply to the attributes and kinds this deployment calls personal.
        return {g: words for g, words in DEFAULT_SYNONYMS.items() if g in personal}
    if not isinstance(raw, Mapping):
        raise ConfigError(
            'must be a table of attribute = [words], e.g. email = ["email", "e-mail"]',
            path=path,
            field="privacy.synonyms",
        )
    synonyms: dict[str, tuple[str, ...]] = {}
    for group, words in raw.items():
        where = f"privacy.synonyms.{group}"
        if group not in personal:
            raise ConfigError(
                f"{group!r} is not a personal attribute or kind, and a field holding one of "
                "these words is masked as the one the list is named after: add it to "
                "privacy.pii_attributes (or pii_kinds), or name the list after one of them",
                path=path,
                field=where,
            )
        if (
            not isinstance(words, list)
            or not words
            or not all(isinstance(w, str) and name_words(w) for w in words)
        ):
            raise ConfigError(
                'must be a list of words or phrases, e.g. ["phone", "mobile", "tel"]',
                path=path,
                field=where,
            )
        synonyms[group] = tuple(words)
    return synonyms


MAX_DEPTH_CEILING = 64
"""Deeper rows would come close to the recursion limits of the JSON encoders and of
GraphQL's serialisation; no identity feed nests this deep."""


def _limits(doc: object, path: str) -> InputLimits:
    if not isinstance(doc, Mapping):
        raise ConfigError("must be a [limits] table", path=path, field="limits")
    _only(
        doc,
        {"max_depth", "max_name_length", "max_string_length", "max_number", "fields"},
        path,
        "limits.",
    )
    default = InputLimits()
    depth = _positive_int(doc.get("max_depth", default.max_depth), path, "limits.max_depth")
    if depth > MAX_DEPTH_CEILING:
        raise ConfigError(
            f"must be at most {MAX_DEPTH_CEILING}, got {depth}", path=path, field="limits.max_depth"
        )
    names = _positive_int(
        doc.get("max_name_length", default.max_name_length), path, "limits.max_name_length"
    )
    base = _field_limits(doc, default.default, path, "limits")
    raw_fields = doc.get("fields", {})
    if not isinstance(raw_fields, Mapping):
        raise ConfigError(
            "must be a table of field = { max_string_length = ..., max_number = ... }",
            path=path,
            field="limits.fields",
        )
    fields: dict[str, FieldLimits] = {}
    for name, spec in raw_fields.items():
        where = f"limits.fields.{name}"
        if not isinstance(spec, Mapping) or not spec:
            raise ConfigError(
                "must be a table with max_string_length and/or max_number",
                path=path,
                field=where,
            )
        _only(spec, {"max_string_length", "max_number"}, path, where + ".")
        fields[name] = _field_limits(spec, base, path, where)
    return InputLimits(max_depth=depth, max_name_length=names, default=base, fields=fields)


def _field_limits(
    doc: Mapping[str, Any], default: FieldLimits, path: str, where: str
) -> FieldLimits:
    length = _positive_int(
        doc.get("max_string_length", default.max_string_length), path, f"{where}.max_string_length"
    )
    number = _positive_int(doc.get("max_number", default.max_number), path, f"{where}.max_number")
    if number > MAX_NUMBER:
        raise ConfigError(
            f"must be at most {MAX_NUMBER} (2**63 - 1): the stores keep 64-bit integers",
            path=path,
            field=f"{where}.max_number",
        )
    return FieldLimits(max_string_length=length, max_number=number)


def _blocking_rule(rule: object, path: str, number: int) -> BlockingRule:
    """A list of keys, or a ``{ sorted_neighbourhood, window, block_on }`` table."""
    where = f"matching.blocking[{number}]"
    if isinstance(rule, list) and rule and all(isinstance(k, str) and k for k in rule):
        return tuple(rule)
    if not isinstance(rule, Mapping):
        raise ConfigError(
            'must be a list of keys, e.g. ["last_name:sound", "first_name:first2"], or a '
            'table, e.g. { sorted_neighbourhood = "last_name", window = 5 }',
            path=path,
            field=where,
        )
    _only(rule, {"sorted_neighbourhood", "window", "block_on"}, path, f"{where}.")
    key = rule.get("sorted_neighbourhood")
    if not isinstance(key, str) or not key:
        raise ConfigError(
            'must name the sorting key, e.g. sorted_neighbourhood = "last_name"',
            path=path,
            field=f"{where}.sorted_neighbourhood",
        )
    window = rule.get("window", 3)
    if isinstance(window, bool) or not isinstance(window, int) or window < 1 or window % 2 == 0:
        raise ConfigError(
            f"must be a positive odd number of distinct key values (3, 5, 7, ...), got {window!r}",
            path=path,
            field=f"{where}.window",
        )
    block_on = rule.get("block_on", [])
    if not isinstance(block_on, list) or not all(isinstance(k, str) and k for k in block_on):
        raise ConfigError(
            'must be a list of keys, e.g. block_on = ["first_name:first2"]',
            path=path,
            field=f"{where}.block_on",
        )
    return SortedNeighbourhoodRule(key, window, tuple(block_on))
