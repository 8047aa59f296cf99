"""Domain errors. The service maps each to one HTTP status / GraphQL error in one place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class IdgraphError(Exception):
    """Base of every error idgraph raises on purpose."""


class ConfigError(IdgraphError):
    """A configuration file (mapping, rules) is invalid; the message names file, field and fix."""

    def __init__(self, message: str, *, path: str | None = None, field: str | None = None):
        self.path = path
        self.field = field
        where = ", ".join(p for p in (path and f"in {path}", field and f"field '{field}'") if p)
        super().__init__(f"{message} ({where})" if where else message)


class EngineUnavailable(IdgraphError):
    """A batch engine asked for cannot run here (Spark without pyspark or without Java);
    the message says what to install."""


class UnknownSource(IdgraphError):
    """No mapping is registered for the source. How to register one depends on where the
    caller is (a CLI flag, an HTTP route): each front end adds its own hint."""

    def __init__(self, source: str):
        self.source = source
        super().__init__(f"no mapping is registered for source '{source}'")


class UnknownProfile(IdgraphError):
    def __init__(self, profile_id: str):
        self.profile_id = profile_id
        super().__init__(f"no profile with id '{profile_id}'")


class AmbiguousIdentifier(IdgraphError):
    """An identifier held by several profiles (shared or junk) asked for as if it named one."""

    def __init__(self, kind: str, count: int):
        self.kind = kind
        self.count = count
        super().__init__(
            f"this {kind} belongs to {count} profiles; use profilesByIdentifier to list them"
        )


class NoProfileWithIdentifier(UnknownProfile):
    """No live profile holds the identifier asked for. The message names its kind, never
    its value (an identifier is personal; the caller knows what it sent)."""

    def __init__(self, kind: str):
        self.kind = kind
        self.profile_id = ""
        IdgraphError.__init__(self, f"no profile holds this {kind}")


class InvalidIdentifier(IdgraphError):
    """A value could not be normalised as the identifier kind its field is mapped to.

    ``needs_region``: a phone number written without its country code and read without a
    default region; a source mapping can fix that with ``phone_region``, a lookup by
    writing the number with ``+CC``.
    """

    def __init__(self, kind: str, problem: str, *, needs_region: bool = False):
        self.kind = kind
        self.problem = problem
        self.needs_region = needs_region
        super().__init__(f"invalid {kind}: {problem}")


class InvalidPayload(IdgraphError):
    """A request body or input file that cannot be read as rows at all (bad rows are
    reported per row instead). ``problems`` name the rows at fault when the file is
    refused whole for them (a CSV's layout, its encoding), each with an excerpt for the
    CLI; the message never holds a value from the file."""

    def __init__(self, problem: str, problems: Sequence[RowProblem] = ()):
        self.problem = problem
        self.problems = list(problems)
        super().__init__(problem)


class InvalidArgument(IdgraphError):
    """A request argument out of its range (a page size, a time without a zone).

    ``argument`` names it as the API does (``birthDate``) where one argument is at fault,
    so a client can point at the field."""

    def __init__(self, message: str, argument: str | None = None):
        self.argument = argument
        super().__init__(message)


class UnknownIdentifierKind(InvalidArgument):
    """An identifier kind the rules do not declare, asked for by name (a lookup)."""

    def __init__(self, kind: str, declared: list[str]):
        self.kind = kind
        super().__init__(
            f"unknown identifier kind {kind!r}; the rules declare {', '.join(sorted(declared))}",
            argument="kind",
        )


class InvalidCursor(IdgraphError):
    """A pagination cursor this service did not hand out (or one from another list)."""

    def __init__(self, cursor: str, hint: str = "pass a cursor from an earlier page"):
        self.cursor = cursor
        super().__init__(f"not a cursor of this list: {cursor[:40]!r}; {hint}")


class UnknownSegment(IdgraphError):
    def __init__(self, name: str):
        self.name = name
        super().__init__(f"no segment named '{name}'")


class InvalidSegment(IdgraphError):
    """A segment definition that cannot be used; ``problems`` each name the place in the
    definition (``where.and[1].count``) and what is wrong there."""

    def __init__(self, name: str, problems: list[str]):
        self.name = name
        self.problems = problems
        super().__init__(f"segment '{name}' is not valid: " + "; ".join(problems))


class UnknownRecord(IdgraphError):
    def __init__(self, source: str, key: str):
        self.source = source
        self.key = key
        super().__init__(f"no record '{key}' of source '{source}'")


class StewardConflict(IdgraphError):
    """A steward action that contradicts an earlier decision or cannot hold (merging
    profiles a steward separated, separating records a must-link joins, undoing twice)."""


class UnknownAction(IdgraphError):
    def __init__(self, action_id: int):
        self.action_id = action_id
        super().__init__(f"no audited action with id {action_id}")


class NothingToUndo(IdgraphError):
    """An undo asked for when every applied rule change is already undone."""


class StoreError(IdgraphError):
    """The store failed or is unreachable; the message never carries personal data."""


class StoreUnavailable(StoreError):
    pass


class StoreBusy(StoreError):
    """A write could not get the store's write lock in time (another process or thread
    holds it), or too many writes of this process already wait for it. The write that
    asked for it was not stored (a batched ingest keeps the batches before it);
    ``retry_after`` is how many seconds to wait before trying again."""

    def __init__(self, reason: str, *, retry_after: int = 1):
        self.retry_after = max(1, retry_after)
        super().__init__(
            f"the store is busy with other writes ({reason}); this write was not stored: "
            f"try again in {self.retry_after}s"
        )


class ProfilesNotImported(StoreError):
    """Records copied into a store name profiles it does not hold yet."""

    def __init__(self, missing: list[str]):
        self.missing = missing
        super().__init__(
            f"cannot import records into profiles this store does not hold ({len(missing):,} "
            f"missing, e.g. {missing[0]}): import the profiles first"
        )


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A problem with one input row: rejected rows are errors, accepted rows may carry warnings."""

    row: int
    field: str | None
    problem: str
    key: str | None = None
    value: str | None = None
    """An excerpt of the value at fault, for the person who sent it (the CLI shows it to
    the owner of the file); never in :meth:`as_dict`, so HTTP answers do not echo it."""

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "field": self.field, "problem": self.problem, "key": self.key}

    def __reduce__(self) -> tuple[type[RowProblem], tuple[object, ...]]:
        # Constructor arguments: cheaper than a slotted dataclass's default pickling, and
        # bulk ingest's mapping workers send every warning back by pickle.
        return (RowProblem, (self.row, self.field, self.problem, self.key, self.value))


class TimeBudgetExceeded(IdgraphError):
    """The work of a call ran past the time budget its caller gave (:mod:`identity.deadline`)."""

    def __init__(self, budget: float, setting: str | None = None):
        self.budget = budget
        where = f" ({setting})" if setting else ""
        super().__init__(
            f"the request ran past its time budget of {budget:g} s{where} and was stopped; "
            "ask for less (smaller pages, fewer fields) or raise the budget"
        )
