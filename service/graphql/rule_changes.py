"""GraphQL types and resolver of a rule change's dry run (``previewRules``): what applying
a new rules file would do to the stored graph, as ``idgraph rules diff`` says it
(identity/rule_changes)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import strawberry

from identity import deadline
from identity.graph import IdentityGraph
from identity.rule_changes.rebase import RuleChanges
from identity.rule_changes.report import ChangedProfile, ProfileChange, RebaseReport
from service.auth import ADMIN
from service.config import Settings
from service.graphql.context import Info, call, needs
from service.graphql.types import RecordRefType
from service.masking import Masker

POSTED = "the posted rules"
"""How errors name the rules text a caller sent (in place of a file name)."""


@strawberry.enum(description="How a rule change regroups records.")
class RuleChangeKind(Enum):
    MERGE = "merge"
    SPLIT = "split"
    MERGE_AND_SPLIT = "merge and split"


@strawberry.type(description="One side of a change: a profile before or after it.")
class ChangedProfileSide:
    profile_id: strawberry.ID | None = strawberry.field(
        description="The profile's id. Null after the change: a profile the change would "
        "create (a dry run cannot know the id it would get); null before it: a record that "
        "had no profile yet (a bulk load's deferred resolution)."
    )
    records: int = strawberry.field(description="How many records the profile holds.")
    moved: list[RecordRefType] = strawberry.field(
        description="The records of the change it holds (at most 50; `records` counts all)."
    )

    @classmethod
    def from_domain(cls, side: ChangedProfile) -> ChangedProfileSide:
        return cls(
            profile_id=strawberry.ID(side.id) if side.id is not None else None,
            records=side.records,
            moved=[RecordRefType.from_domain(r) for r in side.moved],
        )


@strawberry.type(description="Profiles whose records regroup together: `before` become `after`.")
class RuleChangeGroup:
    kind: RuleChangeKind
    records: int = strawberry.field(description="Records that change profile.")
    before: list[ChangedProfileSide]
    after: list[ChangedProfileSide]

    @classmethod
    def from_domain(cls, change: ProfileChange) -> RuleChangeGroup:
        return cls(
            kind=RuleChangeKind(change.kind),
            records=change.records,
            before=[ChangedProfileSide.from_domain(p) for p in change.before],
            after=[ChangedProfileSide.from_domain(p) for p in change.after],
        )


@strawberry.type(description="Profiles a rule change would move into and out of a segment.")
class SegmentMovement:
    segment: str
    entered: int
    exited: int


@strawberry.type(
    description="What applying a new rules file would do to the stored graph; nothing of "
    "it was stored. The same figures `idgraph rules apply` then reports on the same data."
)
class RulePreview:
    changes: list[str] = strawberry.field(
        description="The changes a rebase re-applies, one sentence each (blocklist entries "
        "as the rules text gives them)."
    )
    not_retroactive: list[str] = strawberry.field(
        description="Changes that take effect for new data only, and what to run for them."
    )
    profiles_before: int
    profiles_after: int
    merged: int = strawberry.field(description="Profiles whose records would join another's.")
    split: int = strawberry.field(
        description="Profiles whose records would end up in more than one profile."
    )
    stayed: int = strawberry.field(description="Profiles that would keep exactly their records.")
    records_moved: int = strawberry.field(description="Records that would change profile.")
    started_linking: int = strawberry.field(description="Identifiers that would start linking.")
    stopped_linking: int = strawberry.field(description="Identifiers that would stop linking.")
    links_to_match: int = strawberry.field(
        description="Stored matcher links the new thresholds would make links (MATCH)."
    )
    links_to_review: int = strawberry.field(
        description="Stored matcher links the new thresholds would send to review."
    )
    links_removed: int = strawberry.field(
        description="Stored matcher links under the new review threshold, which would go."
    )
    read_model_rows: int = strawberry.field(
        description="Golden records that would be recomputed (survivorship or event rules changed)."
    )
    households: int | None = strawberry.field(
        description="Households after the change, when it would build them again (its "
        "[households] rule changed); null when it would not."
    )
    seconds: float = strawberry.field(description="How long the dry run took.")
    largest: list[RuleChangeGroup] = strawberry.field(
        description="The 20 largest changes, most records first."
    )
    segments: list[SegmentMovement] = strawberry.field(
        description="Every segment, with the profiles that would enter and exit it."
    )

    @classmethod
    def from_domain(cls, report: RebaseReport, masker: Masker) -> RulePreview:
        # The sentences quote blocklist values (e-mails, phones): free text, masked where
        # they sit for a caller without pii:read (admin has it).
        return cls(
            changes=[str(masker.field("change", line)) for line in report.changes],
            not_retroactive=[str(masker.field("change", line)) for line in report.not_retroactive],
            profiles_before=report.profiles_before,
            profiles_after=report.profiles_after,
            merged=report.merged,
            split=report.split,
            stayed=report.stayed,
            records_moved=report.records_moved,
            started_linking=report.started_linking,
            stopped_linking=report.stopped_linking,
            links_to_match=report.links_to_match,
            links_to_review=report.links_to_review,
            links_removed=report.links_removed,
            read_model_rows=report.read_model_rows,
            households=report.households,
            seconds=round(report.seconds, 3),
            largest=[RuleChangeGroup.from_domain(c) for c in report.largest],
            segments=[
                SegmentMovement(segment=name, entered=entered, exited=exited)
                for name, (entered, exited) in sorted(report.segments.items())
            ],
        )


def _diff(graph: IdentityGraph, settings: Settings, text: str) -> RebaseReport:
    """The dry run as ``idgraph rules diff`` runs it: from the rules the graph runs with,
    stopping between its steps once the request's time budget is spent."""
    current = settings.current_rules(graph.store)[1]
    return RuleChanges(graph, current).diff(text, POSTED, progress=lambda _: deadline.check())


async def resolve_preview_rules(
    info: Info,
    rules: Annotated[str, strawberry.argument(description="The new rules file's text (TOML).")],
) -> RulePreview:
    request = info.context.request
    assert request is not None
    settings: Settings = request.app.state.settings
    report = await call(_diff, info.context.graph, settings, rules)
    return RulePreview.from_domain(report, info.context.masker)


@strawberry.type
class RuleChangeQueries:
    preview_rules: RulePreview = strawberry.field(
        resolver=resolve_preview_rules,
        extensions=needs(ADMIN),
        description="A dry run of a rule change (`idgraph rules diff`; docs/api.md, "
        '"Previewing a rule change"): the rebase to the new rules runs in a transaction '
        "that is rolled back, so nothing is stored. Needs admin: for its duration it holds "
        "a write transaction on the store (on SQLite every other write waits for it, then "
        "answers STORE_BUSY) and it reads every profile, within the query time budget "
        "(TIMEOUT past it; on a large store run `idgraph rules diff`). Rules that are not "
        "valid, or a change no rebase can apply (a kind's normaliser), answer INVALID_CONFIG "
        "naming the field.",
    )
