"""Rule changes on the command line: what a new rules file would do (diff), the retroactive
rebase (apply) and its undo (docs/rules.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from identity.errors import IdgraphError
from identity.evaluation import PairwiseScores, load_assignment
from identity.graph import IdentityGraph
from identity.rule_changes.active import active_rules
from identity.rule_changes.rebase import RuleChanges
from identity.rule_changes.report import ChangedProfile, RebaseReport, report_document
from identity.rules import rules_text
from service.cli.common import (
    RulesOption,
    StoreOption,
    _fail,
    _opened,
    app,
    cli_actor,
    console,
    out,
)
from service.config import Settings

rules_app = typer.Typer(
    help="Change the identity rules of a stored graph: diff, apply, undo (docs/rules.md).",
    no_args_is_help=True,
)
app.add_typer(rules_app, name="rules")

NewRules = Annotated[Path, typer.Argument(help="The new rules file (TOML)", show_default=False)]
TruthOption = Annotated[
    Path | None,
    typer.Option(
        "--truth", help="CSV source,record_key,entity_id: report the change in pairwise quality"
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the report as JSON")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why, for the audit log (required)")]
SHOWN = 20


@rules_app.command("diff")
def diff(
    new_rules: NewRules,
    truth: TruthOption = None,
    as_json: JsonOption = False,
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Dry run: what applying NEW_RULES would do to the stored profiles, segments and links.
    Nothing is stored: the rebase runs in a transaction that is rolled back."""
    text = _read(new_rules)
    with _opened(store, rules) as graph:
        changes = _changes(graph, rules)
        with console.status("diffing") as status:
            report = changes.diff(
                text, str(new_rules), _truth(truth), progress=lambda s: status.update(s)
            )
    _print(report, as_json, dry=True)


@rules_app.command("apply")
def apply(
    new_rules: NewRules,
    reason: ReasonOption,
    truth: TruthOption = None,
    as_json: JsonOption = False,
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Rebase the stored graph onto NEW_RULES: re-resolve what the change touches, keep
    profile ids stable, re-evaluate segments, audit it. The store runs with NEW_RULES from
    now on (`idgraph rules undo` goes back)."""
    text = _read(new_rules)
    with _opened(store, rules) as graph:
        changes = _changes(graph, rules)
        with console.status("applying") as status:
            report = changes.apply(
                text,
                cli_actor(),
                reason,
                str(new_rules),
                _truth(truth),
                progress=lambda s: status.update(s),
            )
    _print(report, as_json, dry=False)


@rules_app.command("undo")
def undo(
    reason: ReasonOption,
    as_json: JsonOption = False,
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Undo the last rule change not yet undone: rebase back onto the rules it replaced."""
    with _opened(store, rules) as graph:
        changes = _changes(graph, rules)
        with console.status("undoing") as status:
            report = changes.undo(cli_actor(), reason, progress=lambda s: status.update(s))
    _print(report, as_json, dry=False)


@rules_app.command("show")
def show(store: StoreOption = None, rules: RulesOption = None) -> None:
    """Print the rules the store was last rebased to (nothing if it never was)."""
    with _opened(store, rules) as graph:
        active = active_rules(graph.store)
    if active is None:
        console.print("the store was never rebased: it runs with the rules file it is opened with")
        return
    console.print(
        f"rules applied by audit entry {active.audit_id} (sha256 {active.digest[:12]}):",
        highlight=False,
    )
    out.print(active.text, markup=False, highlight=False)


def _changes(graph: IdentityGraph, rules: Path | None) -> RuleChanges:
    """Rule changes from the rules ``graph`` was opened with (``--rules``, IDGRAPH_RULES,
    the store's, the packaged: one choice, made by the settings)."""
    return RuleChanges(graph, Settings().current_rules(graph.store, rules)[1])


def _read(path: Path) -> str:
    try:
        return rules_text(path)
    except IdgraphError as error:
        raise _fail(error) from error


def _truth(path: Path | None) -> dict[tuple[str, str], str] | None:
    if path is None:
        return None
    try:
        return load_assignment(path)
    except IdgraphError as error:
        raise _fail(error) from error


def _print(report: RebaseReport, as_json: bool, dry: bool) -> None:
    verb = "would " if dry else ""
    if as_json:
        out.print_json(json.dumps(report_document(report)))
        return
    if not report.changes and not report.not_retroactive:
        console.print("the new rules change nothing the graph depends on")
    for line in report.changes:
        console.print(f"  change: {line}", highlight=False, markup=False)
    for line in report.not_retroactive:
        console.print(f"  [yellow]not retroactive:[/] {line}", highlight=False)
    merge, split, stay = ("merge", "split", "stay") if dry else ("merged", "split", "stayed")
    console.print(
        f"profiles: {report.merged:,} {verb}{merge}, {report.split:,} {verb}{split}, "
        f"{report.stayed:,} {verb}{stay}; {report.profiles_before:,} -> "
        f"{report.profiles_after:,} profiles; {report.records_moved:,} records change profile",
        highlight=False,
    )
    console.print(
        f"identifiers: {report.started_linking:,} start linking, "
        f"{report.stopped_linking:,} stop; matcher links: {report.links_to_match:,} to match, "
        f"{report.links_to_review:,} to review, {report.links_removed:,} removed",
        highlight=False,
    )
    if report.read_model_rows:
        console.print(f"golden records recomputed: {report.read_model_rows:,}")
    if report.households is not None:
        console.print(f"households built again: {report.households:,}")
    if report.largest:
        table = Table("change", "records", "before", "after", title="largest changes")
        for change in report.largest[:SHOWN]:
            table.add_row(
                change.kind,
                f"{change.records:,}",
                "\n".join(_side(p) for p in change.before),
                "\n".join(_side(p) for p in change.after),
            )
        out.print(table)
    if report.segments:
        table = Table("segment", "enter", "exit", title="segments")
        for name, (entered, exited) in sorted(report.segments.items()):
            table.add_row(name, f"{entered:,}", f"{exited:,}")
        out.print(table)
    if report.quality_before is not None and report.quality_after is not None:
        _print_quality(report.quality_before, report.quality_after)
    applied = f"; audit entry {report.audit_id}" if report.audit_id is not None else ""
    console.print(f"{report.seconds:.1f}s{applied}", highlight=False)


def _side(side: ChangedProfile) -> str:
    refs = ", ".join(f"{r.source}:{r.key}" for r in side.moved)
    more = side.records - len(side.moved)
    return f"{side.id or '(new profile)'} [{side.records}]: {refs}" + (
        f" (+{more})" if more > 0 else ""
    )


def _print_quality(before: PairwiseScores, after: PairwiseScores) -> None:
    table = Table("pairwise", "before", "after", "change", title="quality against the truth")
    for name in ("precision", "recall", "f1"):
        old, new = getattr(before, name), getattr(after, name)
        table.add_row(name, f"{old:.4f}", f"{new:.4f}", f"{new - old:+.4f}")
    out.print(table)
