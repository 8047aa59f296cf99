"""Benchmark: masking a segment export's rows for a token without ``pii:read``, in memory
(no store, no HTTP), so the figure is the masker's alone.

The rows are real: the demo generator's people and events are loaded into a temporary
SQLite store and every member is exported with every field the catalog offers (profile_id,
each identifier kind, each attribute the demo's sources hold, traits.*, consent.*), in
full; then those rows are repeated up to ``--rows``. Three ways to mask them:

- ``per value, parsed phones``: today's path before the compiled masker, ``{name:
  masker.field(name, value)}`` per row with every phone read by ``phonenumbers.parse``;
- ``per value``: the same, with the E.164 shortcut of ``mask_phone`` (what GraphQL pays);
- ``compiled``: ``masker.row_masker(fields)``, what the export route runs.

The masker keeps no cache of values, so repeated rows cost what new ones would. Each way
runs ``--runs`` times; the median rates are printed with the spread and the load average.
All three must give the same rows, checked before timing. The runs go round-robin (old,
new, old, new, ...) so that a shared machine's load weighs on each way alike, and both
the wall time and the process's CPU time are reported.

Run with `.venv/bin/python -m tests.benchmarks.masking` (``--default-fields`` for the
export route's default columns instead of all of them).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import service.masking as masking
from identity.demo.generator import generate
from identity.graph import IdentityGraph
from identity.mapping import load_mapping
from identity.model import JSONValue
from identity.readers import read_file
from identity.rules import load_rules
from identity.store.sqlite import SQLiteStore
from service.masking import Masker
from service.routes.segments import DEFAULT_FIELDS
from tests.benchmarks.common import load_average, machine

Row = dict[str, JSONValue]


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def export_rows(
    people: int, events: int, seed: int, default_fields: bool
) -> tuple[list[str], list[Row]]:
    """Every profile of a demo store, exported in full: the columns and the rows."""
    with tempfile.TemporaryDirectory(prefix="idgraph-mask-bench-") as tmp:
        work = Path(tmp)
        files = generate(work / "demo", people=people, seed=seed, events=events)
        graph = IdentityGraph(SQLiteStore(work / "store.db"), load_rules(None))
        try:
            for path in sorted(files.mappings_dir.glob("*.toml")):
                graph.ingest.register_source(load_mapping(path, rules=graph.rules))
            for source, path in sorted(files.files.items()):
                graph.ingest.ingest_rows(
                    source, read_file(path, graph.ingest.source(source).format)
                )
            if files.events_file is not None:
                graph.events.ingest_rows(read_file(files.events_file, "jsonl"))
            kinds = sorted(graph.rules.kinds)
            graph.segments.define(
                "everyone", {"where": {"or": [{"identifier": kind} for kind in kinds]}}
            )
            if default_fields:
                fields = graph.catalog.known(DEFAULT_FIELDS.split(","))
            else:
                fields = graph.catalog.fields()
            rows = list(graph.segments.export("everyone", fields))
        finally:
            graph.close()
    return fields, rows


@contextmanager
def parsed_phones() -> Iterator[None]:
    """Phones masked as before the E.164 shortcut: every one read by phonenumbers."""
    styles, values = dict(masking._STYLES), dict(masking._VALUE_STYLES)
    masking._STYLES["phone"] = masking.mask_phone_parsed
    masking._VALUE_STYLES["phone"] = masking.mask_phone_parsed
    try:
        yield
    finally:
        masking._STYLES.update(styles)
        masking._VALUE_STYLES.update(values)


def per_value(masker: Masker, rows: list[Row]) -> list[Row]:
    return [{name: masker.field(name, value) for name, value in row.items()} for row in rows]


def compiled(masker: Masker, fields: list[str], rows: list[Row]) -> list[Row]:
    return list(map(masker.row_masker(fields), rows))


def timed(ways: dict[str, Callable[[], object]], runs: int) -> dict[str, list[tuple[float, float]]]:
    """Each way ``runs`` times, round-robin so that all see the same load: (wall, CPU)
    seconds of each run."""
    seconds: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
    for _ in range(runs):
        for name, run in ways.items():
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            seconds[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=1500)
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--default-fields", action="store_true")
    args = parser.parse_args()

    _log(f"loading {args.people} demo people and {args.events} events ...")
    fields, real = export_rows(args.people, args.events, args.seed, args.default_fields)
    rows = [real[i % len(real)] for i in range(args.rows)]
    masker = Masker(load_rules(None), reveals=False)
    _log(f"{len(real)} exported profiles, repeated to {len(rows)} rows of {len(fields)} fields")

    with parsed_phones():
        expected = per_value(masker, rows)
    if per_value(masker, rows) != expected or compiled(masker, fields, rows) != expected:
        raise SystemExit("the ways of masking disagree: fix the masker before timing it")

    def parsed() -> list[Row]:
        with parsed_phones():
            return per_value(masker, rows)

    ways: dict[str, Callable[[], object]] = {
        "per value, parsed phones": parsed,
        "per value": lambda: per_value(masker, rows),
        "compiled": lambda: compiled(masker, fields, rows),
    }
    print(f"Masking {len(rows):,} export rows of {len(fields)} fields: {', '.join(fields)}")
    print(f"{machine()}; load average before: {load_average()}")
    seconds = timed(ways, args.runs)
    median = f"median of {args.runs}"
    print(f"| masker | rows/s, CPU time ({median}) | rows/s, wall ({median}) | runs, wall (s) |")
    print("|---|---:|---:|---|")
    for name, runs in seconds.items():
        wall = len(rows) / statistics.median(w for w, _ in runs)
        cpu = len(rows) / statistics.median(c for _, c in runs)
        spread = ", ".join(f"{w:.2f}" for w, _ in runs)
        print(f"| {name} | {cpu:,.0f} | {wall:,.0f} | {spread} |")
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
