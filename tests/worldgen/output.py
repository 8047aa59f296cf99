"""Writing the files: rows go to disk as they are made and come out in time order.

People are generated household by household, but no real export lists a household's
members together: a CRM lists accounts by creation, an event log by time. Each file's rows
are spread over time buckets on disk as they come and each bucket is sorted on its own at
the end, so memory holds one bucket, never the whole file. Sequential record keys (CRM
account numbers, ticket numbers) are given in that final order, as the source system
would have given them, and the truth is written beside each row.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

BUCKETS = 48


@dataclass(frozen=True)
class FileSpec:
    """One source file: its name, shape, and how its record key is made."""

    source: str  # the name used in truth.csv
    file_name: str
    columns: tuple[str, ...] = ()  # CSV columns; empty for JSON Lines
    key: str = ""  # the key column / field
    sequential_key: Callable[[int], str] | None = None  # key of the n-th row, when the
    # source numbers its rows; None when each row brings its own key

    @property
    def jsonl(self) -> bool:
        return not self.columns


class RowWriter(Protocol):
    def writerow(self, row: Any, /) -> Any: ...


class SortedSink:
    """Rows of one file, bucketed by time on disk, drained in time order."""

    def __init__(self, work: Path, spec: FileSpec, start: int, end: int) -> None:
        self.spec = spec
        self.start, self.span = start, max(1, end - start + 1)
        self.folder = work / spec.source
        self.folder.mkdir(parents=True)
        self._handles: dict[int, TextIO] = {}
        self._sequence = 0
        self.rows = 0

    def add(self, when: int, entity: str, row: dict[str, Any] | list[Any]) -> None:
        bucket = min(BUCKETS - 1, max(0, (when - self.start) * BUCKETS // self.span))
        handle = self._handles.get(bucket)
        if handle is None:
            handle = (self.folder / f"{bucket:03d}").open("a", encoding="utf-8", newline="\n")
            self._handles[bucket] = handle
        self._sequence += 1
        payload = json.dumps(row, ensure_ascii=False, separators=(",", ":"))
        handle.write(f"{when:015d}{self._sequence:010d}\t{entity}\t{payload}\n")
        self.rows += 1

    def drain(self) -> Iterator[tuple[str, Any]]:
        """(entity, row) in time order; each bucket is read, sorted and deleted in turn."""
        for handle in self._handles.values():
            handle.close()
        for bucket in range(BUCKETS):
            path = self.folder / f"{bucket:03d}"
            if not path.exists():
                continue
            lines = path.read_text("utf-8").splitlines()
            lines.sort()
            for line in lines:
                _, entity, payload = line.split("\t", 2)
                yield entity, json.loads(payload)
            path.unlink()
        shutil.rmtree(self.folder, ignore_errors=True)


def write_source(sink: SortedSink, out: Path, truth: RowWriter) -> int:
    """Write the sink's file into `out` and its truth rows; return the number of rows."""
    spec = sink.spec
    count = 0
    with (out / spec.file_name).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle) if not spec.jsonl else None
        if writer is not None:
            writer.writerow(spec.columns)
        for entity, row in sink.drain():
            count += 1
            if spec.jsonl:
                if spec.sequential_key is not None:
                    row = {spec.key: spec.sequential_key(count), **row}
                key = row[spec.key]
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            else:
                index = spec.columns.index(spec.key)
                if spec.sequential_key is not None:
                    row[index] = spec.sequential_key(count)
                key = row[index]
                assert writer is not None
                writer.writerow(["" if value is None else value for value in row])
            truth.writerow((spec.source, key, entity))
    return count
