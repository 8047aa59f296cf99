"""Identity rules: which identifier kinds exist, how each normalises and links, junk values,
how the golden record is chosen, and which values are personal. Loaded from a TOML file
and validated at load.

The packaged default is ``identity/config/rules.toml``; docs/sources.md documents the format.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

from identity.config_tables import SOURCE_NAME, only_settings, positive_int
from identity.errors import ConfigError, UnknownIdentifierKind
from identity.households.rules import HouseholdRules, household_rules
from identity.limits import InputLimits, input_limits
from identity.model import IdentifierFlagReason, IdentifierKey
from identity.privacy.personal_data import PrivacyRules, privacy_rules

NormaliserName = Literal["email", "phone", "id"]
CaseRule = Literal["upper", "lower", "keep"]
DuplicatePolicy = Literal["review", "link"]
DUPLICATE_POLICIES: tuple[str, ...] = ("review", "link")
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
class DuplicateRule:
    """What happens to likely duplicate accounts within one source: two records of a source
    that each carry their own value of a limited kind (two CRM customer ids of one person),
    which the kind's ``max_per_profile`` holds apart.

    ``review`` (the default): the pair waits in the stewards' review queue, whose decision
    overrides the limit. ``link``: a pair the matcher links (at or above the link
    threshold, with no required field counting against it) joins over the limit."""

    default: DuplicatePolicy = "review"
    sources: Mapping[str, DuplicatePolicy] = field(default_factory=dict)
    """Per source name, where it differs from ``default``."""

    def policy(self, source: str) -> DuplicatePolicy:
        return self.sources.get(source, self.default)


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
    different first names. Compared as normalised names, one person's when the matcher's
    first-name levels say so (:func:`identity.matching.names.same_persons_name`)."""
    bridges: bool = True
    """Whether a shared value may join two records that each already belong to someone
    known (hold a linking identifier of a bridging kind). False for anonymous kinds: a
    family tablet's device id attaches a login to its person but never joins the two
    people who log in on it."""
    duplicates: DuplicateRule = field(default_factory=DuplicateRule)
    """Likely duplicate accounts within one source that this kind's limit holds apart:
    reviewed (default) or linked (docs/sources.md, "Duplicate accounts within one source")."""


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
DEFAULT_CHUNK_PAIRS = 1_000_000
"""Candidate pairs compared and scored at a time: bounds the memory of batch linking."""
DEFAULT_EM_SAMPLE_PAIRS = 2_000_000
"""Candidate pairs per blocking rule that EM trains m on (a seeded sample beyond it)."""


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
    chunk_pairs: int = DEFAULT_CHUNK_PAIRS
    """Candidate pairs compared and scored at a time in batch (memory, not results)."""
    em_sample_pairs: int = DEFAULT_EM_SAMPLE_PAIRS
    """At most this many of a blocking rule's candidate pairs train m by EM (a seeded
    sample): comparing every pair of a million records to learn a few dozen proportions
    costs minutes and gigabytes."""
    link_requires_one_of: tuple[str, ...] = ()
    """Fields at least one of which must weigh for a pair (agree at a level of positive
    weight) for it to link; a pair with none of them goes to review at most. Names alone
    do not tell a person from a namesake: empty, no such requirement."""
    duplicates_require_agreement: tuple[str, ...] = ()
    """Fields that must not count against a likely duplicate account (weigh below zero in
    its explanation) for a kind's ``duplicates = "link"`` to join it over the limit: a
    person has one birth date and one name, however many accounts."""


DEFAULT_DUPLICATES_REQUIRE_AGREEMENT: tuple[str, ...] = (
    "first_name",
    "last_name",
    "full_name",
    "birth_date",
)
"""The packaged choice, for the ones of these fields a configuration compares."""


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
    retention_days: int | None = None
    """Days an event is kept after its timestamp; ``idgraph retention apply`` deletes older
    ones (None keeps them). Consent events too: a profile's consent then falls back to
    the statements left, and without any it is not given."""


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
    households: HouseholdRules = field(default_factory=HouseholdRules)
    """Which shared evidence relates profiles as one household (identity/households/)."""

    def kind(self, name: str) -> KindRule:
        """The rule of a declared kind. Raises UnknownIdentifierKind naming the declared
        kinds (mappings, events and segments check their kinds at load, with their own
        ConfigError; this is the lookup's)."""
        rule = self.kinds.get(name)
        if rule is None:
            raise UnknownIdentifierKind(name, list(self.kinds))
        return rule

    def is_blocklisted(self, key: IdentifierKey) -> bool:
        """Whether a value never links: listed as junk, or flagged as a family's e-mail
        (``[households] family_emails``)."""
        if key.value in self.blocklist.get(key.kind, frozenset()):
            return True
        if self.households.is_family_email(key.kind, key.value):
            return True
        return key.value.strip().casefold() in self.blocklist.get(ANY_KIND, frozenset())

    def linking_changed(
        self,
        keys: Iterable[IdentifierKey],
        before: Mapping[IdentifierKey, int],
        after: Mapping[IdentifierKey, int],
    ) -> list[IdentifierKey]:
        """The ``keys`` that started or stopped linking when their record counts went from
        ``before`` to ``after`` (a cap crossed): every holder must be re-resolved."""
        return [
            k
            for k in keys
            if self.link_block_reason(k, before[k]) != self.link_block_reason(k, after[k])
        ]

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
        only_settings(
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
                "households",
            },
            path,
            "",
        )
        default_cap = positive_int(
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
            privacy=privacy_rules(doc.get("privacy", {}), kinds, path),
            limits=input_limits(doc.get("limits", {}), path),
            households=_family_emails_normalised(
                household_rules(doc.get("households", {}), kinds, path), kinds
            ),
        )


def load_rules(path: Path | None = None) -> Rules:
    """Load and validate a rules file, or the packaged default when ``path`` is None."""
    return rules_from_text(rules_text(path), str(path) if path else PACKAGED_RULES)


PACKAGED_RULES = "identity/config/rules.toml"


def rules_text(path: Path | None = None) -> str:
    """The text of a rules file, or of the packaged default when ``path`` is None."""
    if path is None:
        return resources.files("identity").joinpath("config/rules.toml").read_text("utf-8")
    try:
        return path.read_text("utf-8")
    except OSError as error:
        raise ConfigError(
            f"cannot read the rules file: {error.strerror}", path=str(path)
        ) from error


def rules_from_text(text: str, where: str) -> Rules:
    """Parse and validate the text of a rules file; ``where`` names it in errors."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"not valid TOML: {error}", path=where) from error
    return Rules.from_document(doc, path=where)


# -- validation helpers ---------------------------------------------------------------------


def _kind_rule(name: str, spec: object, default_cap: int, path: str) -> KindRule:
    where = f"kinds.{name}"
    if name == ANY_KIND:
        raise ConfigError(f"'{ANY_KIND}' is reserved for the blocklist", path=path, field=where)
    if not isinstance(spec, Mapping):
        raise ConfigError("must be a table", path=path, field=where)
    only_settings(
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
            "duplicates",
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
        limit = positive_int(limit, path, f"{where}.max_per_profile")
    cap = positive_int(spec.get("cardinality_cap", default_cap), path, f"{where}.cardinality_cap")
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
        only_settings(pspec, {"remove_dots", "remove_plus_tag", "aliases"}, path, pwhere + ".")
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
        duplicates=_duplicate_rule(spec.get("duplicates"), limit, path, f"{where}.duplicates"),
    )


def _duplicate_rule(value: object, limit: int | None, path: str, where: str) -> DuplicateRule:
    """``"review"`` or ``"link"`` for every source, or a table of source = policy."""
    if value is None:
        return DuplicateRule()
    if limit is None:
        raise ConfigError(
            "duplicates decides what a kind's max_per_profile holds apart: set "
            "max_per_profile on this kind, or remove duplicates",
            path=path,
            field=where,
        )
    choices = " or ".join(f'"{p}"' for p in DUPLICATE_POLICIES)

    def policy(raw: object, name: str) -> DuplicatePolicy:
        if raw not in DUPLICATE_POLICIES:
            raise ConfigError(f"must be {choices}, got {raw!r}", path=path, field=name)
        return cast(DuplicatePolicy, raw)

    if isinstance(value, str):
        return DuplicateRule(default=policy(value, where))
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"must be {choices} for every source, or a table of source = policy, e.g. "
            f'duplicates = {{ crm = "link" }}, got {value!r}',
            path=path,
            field=where,
        )
    sources: dict[str, DuplicatePolicy] = {}
    for source, raw in value.items():
        if not SOURCE_NAME.match(source):
            raise ConfigError(
                "must name a source: lower-case letters, digits, '_' and '-'",
                path=path,
                field=f"{where}.{source}",
            )
        sources[source] = policy(raw, f"{where}.{source}")
    return DuplicateRule(sources=sources)


def _optional_name(value: object, path: str, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"must be an attribute name, got {value!r}", path=path, field=name)
    return value.strip()


def _family_emails_normalised(
    rules: HouseholdRules, kinds: Mapping[str, KindRule]
) -> HouseholdRules:
    """The family addresses as stored values are (``John.Smith+x@GMail.com`` as the
    e-mail kind keeps it), so a flagged address matches its stored identifier."""
    from identity.errors import InvalidIdentifier
    from identity.normalise import Normaliser

    if not rules.family_emails or not rules.email_kinds:
        return rules
    normaliser = Normaliser(Rules(kinds=kinds))
    normalised = set()
    for value in rules.family_emails:
        try:
            normalised.add(normaliser.identifier(rules.email_kinds[0], value).value)
        except InvalidIdentifier:
            normalised.add(value)
    return replace(rules, family_emails=frozenset(normalised))


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
    only_settings(raw, {"default", "attributes"}, path, "survivorship.")

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
    only_settings(
        doc,
        {
            "fields",
            "blocking",
            "link_threshold",
            "review_threshold",
            "require_agreement",
            "link_requires_one_of",
            "max_block_size",
            "chunk_pairs",
            "em_sample_pairs",
            "duplicates_require_agreement",
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
    max_block_size = positive_int(
        doc.get("max_block_size", DEFAULT_MAX_BLOCK_SIZE), path, "matching.max_block_size"
    )
    chunk_pairs = positive_int(
        doc.get("chunk_pairs", DEFAULT_CHUNK_PAIRS), path, "matching.chunk_pairs"
    )
    em_sample_pairs = positive_int(
        doc.get("em_sample_pairs", DEFAULT_EM_SAMPLE_PAIRS), path, "matching.em_sample_pairs"
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
    corroborating = doc.get("link_requires_one_of", [])
    if not isinstance(corroborating, list) or any(name not in fields for name in corroborating):
        raise ConfigError(
            "must be a list of compared fields (names in [matching.fields]), e.g. "
            '["birth_date", "postcode", "email", "phone"]',
            path=path,
            field="matching.link_requires_one_of",
        )
    duplicates_required = doc.get(
        "duplicates_require_agreement",
        [name for name in DEFAULT_DUPLICATES_REQUIRE_AGREEMENT if name in fields],
    )
    if not isinstance(duplicates_required, list) or any(
        name not in fields for name in duplicates_required
    ):
        raise ConfigError(
            "must be a list of compared fields (names in [matching.fields])",
            path=path,
            field="matching.duplicates_require_agreement",
        )
    return MatchingRules(
        fields=dict(fields),
        blocking=rules,
        require_agreement=tuple(required),
        link_requires_one_of=tuple(corroborating),
        max_block_size=max_block_size,
        chunk_pairs=chunk_pairs,
        em_sample_pairs=em_sample_pairs,
        duplicates_require_agreement=tuple(duplicates_required),
        **thresholds,
    )


def _events(doc: object, kinds: Mapping[str, KindRule], path: str) -> EventRules:
    if not isinstance(doc, Mapping):
        raise ConfigError("must be an [events] table", path=path, field="events")
    fields = set(EventRules.__dataclass_fields__)
    only_settings(doc, fields, path, "events.")
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
    retention = doc.get("retention_days")
    if retention is not None and (
        isinstance(retention, bool)
        or not isinstance(retention, int)
        or not 1 <= retention <= 100_000
    ):
        raise ConfigError(
            f"must be a whole number of days from 1 to 100,000, got {retention!r}; leave "
            "it out to keep events for good",
            path=path,
            field="events.retention_days",
        )
    return EventRules(
        retention_days=retention,
        stitch_types=names("stitch_types"),
        anonymous_kinds=anonymous,
        order_types=names("order_types"),
        order_value=name("order_value"),
        consent_type=name("consent_type"),
        purposes=purposes,
    )


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
    only_settings(rule, {"sorted_neighbourhood", "window", "block_on"}, path, f"{where}.")
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
