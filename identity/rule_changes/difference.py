"""What changes between two sets of identity rules, read as what a rebase must redo.

Each setting falls in one of four groups:

- **re-resolved**: settings that decide which identifiers link and how clusters form
  (a kind's ``links``, limit, household guard, bridging, duplicate policy and priority, a
  cardinality cap, the blocklist). The rebase re-flags the identifiers whose status
  changes and re-resolves the records they and the changed kinds reach.
- **re-decided**: the matcher's two thresholds. Stored matcher links are decided again
  from their stored weight and evidence; no pair is scored again.
- **recomputed**: survivorship and the event rules, which golden records and traits
  follow: every profile's read-model row is recomputed.
- **refused**: changes to what stored values are (a kind's normaliser, case or mail
  providers; a kind removed while declared). The stored identifiers were normalised by
  the old rule, so only re-ingesting the sources applies them; a rebase would be a lie.

Everything else (the matcher's fields, blocking and requirements, privacy, limits) takes
effect for new data and is listed as not retroactive: re-scoring stored pairs under new
comparisons is ``idgraph train`` and ``idgraph link``, run after the apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from identity.errors import ConfigError
from identity.rules import KindRule, MatchingRules, Rules

_VALUE_SETTINGS = ("normaliser", "case", "providers")
"""Kind settings that decide stored values, not links: refused (re-ingest instead)."""

_LINK_SETTINGS = ("links", "priority", "max_per_profile", "same_attribute", "bridges", "duplicates")
"""Kind settings clustering reads: every holder of the kind is re-resolved."""

_PERFORMANCE_ONLY = ("chunk_pairs", "em_sample_pairs")
"""Matching settings that change memory and time, never a link."""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The matcher's thresholds before and after."""

    link_before: float
    link_after: float
    review_before: float
    review_after: float

    @property
    def review_lowered(self) -> bool:
        """Pairs between the two review thresholds were never stored: no rebase finds them."""
        return self.review_after < self.review_before


@dataclass(frozen=True, slots=True)
class RuleDifference:
    """The changes from ``before`` to ``after`` that a rebase re-applies, and the others."""

    before: Rules
    after: Rules
    kinds: tuple[str, ...] = ()
    """Kinds whose linking settings changed: every record holding one is re-resolved."""
    caps: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Kind -> (cap before, cap after), for kinds whose cardinality cap changed."""
    blocked: dict[str, frozenset[str]] = field(default_factory=dict)
    """Kind (or ``any``) -> blocklist values added."""
    unblocked: dict[str, frozenset[str]] = field(default_factory=dict)
    """Kind (or ``any``) -> blocklist values removed."""
    thresholds: Thresholds | None = None
    read_model: tuple[str, ...] = ()
    """Rule tables whose change recomputes every profile's golden record and traits."""
    households: bool = False
    """Whether ``[households]`` changed: the households are built again."""
    not_retroactive: tuple[str, ...] = ()
    """Changes that take effect for new data only, each as a sentence."""

    @property
    def empty(self) -> bool:
        return not (
            self.kinds
            or self.caps
            or self.blocked
            or self.unblocked
            or self.thresholds
            or self.read_model
            or self.households
            or self.not_retroactive
        )

    @property
    def relinks(self) -> bool:
        """Whether stored matcher links are decided again: the thresholds changed, or a
        kind's duplicate-account settings did (they decide within-source pairs)."""
        return self.thresholds is not None or bool(self.kinds)

    def lines(self) -> list[str]:
        """The difference as sentences, for the CLI, the API and the audit log."""
        said: list[str] = []
        for kind in self.kinds:
            old, new = self.before.kinds[kind], self.after.kinds[kind]
            changed = [
                f"{name} {getattr(old, name)!r} -> {getattr(new, name)!r}"
                for name in _LINK_SETTINGS
                if getattr(old, name) != getattr(new, name)
            ]
            said.append(f"kinds.{kind}: {', '.join(changed)}")
        for kind, (old_cap, new_cap) in sorted(self.caps.items()):
            said.append(f"kinds.{kind}.cardinality_cap: {old_cap} -> {new_cap}")
        for sign, lists, other in (("+", self.after, self.before), ("-", self.before, self.after)):
            for kind, values in sorted(_listed(lists, other).items()):
                said.append(f"blocklist.{kind}: {sign} {', '.join(sorted(values))}")
            family = lists.households.family_emails - other.households.family_emails
            if family:
                said.append(f"households.family_emails: {sign} {', '.join(sorted(family))}")
        if self.thresholds is not None:
            t = self.thresholds
            said.append(
                f"matching: link_threshold {t.link_before} -> {t.link_after}, "
                f"review_threshold {t.review_before} -> {t.review_after}"
            )
        said.extend(
            f"[{table}] changed: every golden record is recomputed" for table in self.read_model
        )
        if self.households:
            said.append("[households] changed: households are built again")
        return said


def difference(before: Rules, after: Rules) -> RuleDifference:
    """What a rebase from ``before`` to ``after`` redoes. Raises ConfigError naming the
    setting for a change no rebase can apply to stored data."""
    _refuse_value_changes(before, after)
    kinds = tuple(
        sorted(
            name
            for name, rule in after.kinds.items()
            if name in before.kinds and _link_settings(before.kinds[name]) != _link_settings(rule)
        )
    )
    caps = {
        name: (before.kinds[name].cardinality_cap, rule.cardinality_cap)
        for name, rule in after.kinds.items()
        if name in before.kinds and before.kinds[name].cardinality_cap != rule.cardinality_cap
    }
    listed_before, listed_after = _never_linking(before), _never_linking(after)
    names = set(listed_before) | set(listed_after)
    blocked = {
        k: v
        for k in names
        if (v := listed_after.get(k, frozenset()) - listed_before.get(k, frozenset()))
    }
    unblocked = {
        k: v
        for k in names
        if (v := listed_before.get(k, frozenset()) - listed_after.get(k, frozenset()))
    }
    thresholds, later = _matching(before.matching, after.matching)
    read_model = tuple(
        name
        for name, old, new in (
            ("survivorship", before.survivorship, after.survivorship),
            ("events", before.events, after.events),
        )
        if old != new
    )
    households = before.households != after.households
    if before.privacy != after.privacy:
        later.append("[privacy]: masking follows the new rules from the next request")
    if before.limits != after.limits:
        later.append("[limits]: apply to rows ingested from now on")
    added = sorted(set(after.kinds) - set(before.kinds))
    if added:
        later.append(
            f"new kinds {', '.join(added)}: stored records hold none; a source mapping maps "
            "them from the next load (re-ingest a source to map its stored rows)"
        )
    return RuleDifference(
        before=before,
        after=after,
        kinds=kinds,
        caps=caps,
        blocked=blocked,
        unblocked=unblocked,
        thresholds=thresholds,
        read_model=read_model,
        households=households,
        not_retroactive=tuple(later),
    )


def _never_linking(rules: Rules) -> dict[str, frozenset[str]]:
    """Values that never link, by kind (or ``any``): the blocklist and the addresses
    flagged as a family's."""
    listed = dict(rules.blocklist)
    for kind in rules.households.email_kinds:
        listed[kind] = listed.get(kind, frozenset()) | rules.households.family_emails
    return {k: v for k, v in listed.items() if v}


def _listed(rules: Rules, other: Rules) -> dict[str, frozenset[str]]:
    """Blocklist values of ``rules`` that ``other`` does not list."""
    return {
        k: v
        for k, values in rules.blocklist.items()
        if (v := values - other.blocklist.get(k, frozenset()))
    }


def _link_settings(rule: KindRule) -> tuple[object, ...]:
    return tuple(getattr(rule, name) for name in _LINK_SETTINGS)


def _refuse_value_changes(before: Rules, after: Rules) -> None:
    removed = sorted(set(before.kinds) - set(after.kinds))
    if removed:
        raise ConfigError(
            f"kind {removed[0]!r} is declared in the current rules and stored records may "
            "hold it; keep it, with links = false to stop it linking",
            field=f"kinds.{removed[0]}",
        )
    for name, rule in after.kinds.items():
        old = before.kinds.get(name)
        if old is None:
            continue
        for setting in _VALUE_SETTINGS:
            if getattr(old, setting) != getattr(rule, setting):
                raise ConfigError(
                    f"changes how stored {name} values were normalised, which a rebase "
                    "cannot redo: re-ingest the sources with the new rules instead (or "
                    "keep the current setting)",
                    field=f"kinds.{name}.{setting}",
                )


def _matching(
    before: MatchingRules | None, after: MatchingRules | None
) -> tuple[Thresholds | None, list[str]]:
    """The thresholds' change, and the matching changes that are not retroactive."""
    if before is None and after is None:
        return None, []
    if before is None or after is None:
        what = "added" if before is None else "removed"
        return None, [
            f"[matching] {what}: stored links stay as they are; run `idgraph train` and "
            "`idgraph link` after the apply to score the stored records"
        ]
    thresholds = None
    if (before.link_threshold, before.review_threshold) != (
        after.link_threshold,
        after.review_threshold,
    ):
        thresholds = Thresholds(
            before.link_threshold,
            after.link_threshold,
            before.review_threshold,
            after.review_threshold,
        )
    later: list[str] = []
    if thresholds is not None and thresholds.review_lowered:
        later.append(
            f"review_threshold lowered to {after.review_threshold}: pairs scoring between it "
            f"and {before.review_threshold} were never stored; `idgraph link` after the "
            "apply finds them"
        )
    same = replace(
        after,
        link_threshold=before.link_threshold,
        review_threshold=before.review_threshold,
        **{name: getattr(before, name) for name in _PERFORMANCE_ONLY},
    )
    if same != before:
        changed = sorted(
            name
            for name in MatchingRules.__dataclass_fields__
            if getattr(same, name) != getattr(before, name)
        )
        later.append(
            f"[matching] {', '.join(changed)} changed: stored pairs keep their scores; run "
            "`idgraph train` and `idgraph link` after the apply to score them again"
        )
    return thresholds, later
