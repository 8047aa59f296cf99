"""One source's rows as the ingest takes them: held to the input limits, made Unicode NFC
(identity/limits.py, the one gate of the CLI and the HTTP API), then mapped and normalised.
Both ingest paths map rows through :class:`RowMapping`, the bulk path in worker processes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from identity.errors import RowProblem
from identity.mapping import MappedRow, RecordMapper, SourceMapping
from identity.model import JSONValue
from identity.normalise import Normaliser
from identity.rules import Rules

Row = tuple[int, "dict[str, JSONValue] | RowProblem"]
"""A numbered input row (1-based), or the problem that stopped it being read."""


class RowMapping:
    """Admits and maps rows of one source; never raises on bad data, reports it instead."""

    def __init__(
        self, mapping: SourceMapping, rules: Rules, normaliser: Normaliser | None = None
    ) -> None:
        self.mapping = mapping
        self.limits = rules.limits
        self.mapper = RecordMapper(mapping, normaliser or Normaliser(rules))
        self._strict = (mapping.key,)

    def map(self, number: int, row: dict[str, JSONValue] | RowProblem) -> MappedRow:
        """The row's record, or the problems that refuse it; warnings either way."""
        if not isinstance(row, RowProblem):
            row = self.limits.admit(row, number, self.mapping.key, strict=self._strict)
        if isinstance(row, RowProblem):
            return MappedRow(number, None, [row])
        return self.mapper.map_row(row, number)

    def map_all(self, rows: Iterable[Row]) -> Iterator[MappedRow]:
        return (self.map(number, row) for number, row in rows)
