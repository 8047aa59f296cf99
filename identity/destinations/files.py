"""The file sink: each batch a new immutable file in ``FOLDER/SEGMENT/`` (CSV, or Parquet
with pyarrow), plus ``manifest.json`` listing them, each written to a temporary file,
fsynced and renamed into place, so a loader never sees half a file.

Layout (docs/activation.md)::

    FOLDER/SEGMENT/snapshot-<seq>-<part>.csv   profile_id, fields...
    FOLDER/SEGMENT/delta-<from>-<to>.csv       seq, kind, at, profile_id, merged_into, fields...
    FOLDER/SEGMENT/manifest.json

The manifest is renamed into place before the worker stores its cursor. After a crash in
between, :meth:`FileSink.acknowledged` reads the manifest's position and the worker moves
its cursor there instead of writing the range again.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from identity.destinations.model import SNAPSHOT, Batch, Destination, Outcome
from identity.errors import ConfigError
from identity.export import csv_cell
from identity.model import JSONValue
from identity.segments import change_cursor

MANIFEST = "manifest.json"
DELTA_COLUMNS = ("seq", "kind", "at", "profile_id", "merged_into")


def parquet_available() -> bool:
    try:
        import pyarrow  # noqa: F401  (only whether it imports)
    except ImportError:
        return False
    return True


def require_parquet() -> None:
    """ConfigError unless pyarrow can be imported."""
    if not parquet_available():
        raise ConfigError(
            "format 'parquet' needs pyarrow: pip install 'idgraph[parquet]' (or use --format csv)",
            field="format",
        )


def columns(destination: Destination, kind: str) -> list[str]:
    fields = [f for f in destination.fields if f != "profile_id"]
    if kind == SNAPSHOT:
        return ["profile_id", *fields]
    return [*DELTA_COLUMNS, *fields]


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes) -> None:
    """``data`` at ``path``, all or nothing: a temporary file in the same folder, fsynced,
    renamed over ``path``, and the folder fsynced so the rename survives a power cut."""
    temporary = path.with_name(f".tmp-{path.name}")
    with temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _fsync_dir(path.parent)


def _csv_bytes(rows: list[dict[str, JSONValue]], names: list[str]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([csv_cell(row.get(n)) for n in names])
    return text.getvalue().encode()


def _parquet_bytes(rows: list[dict[str, JSONValue]], names: list[str]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    def cell(value: JSONValue) -> Any:
        return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value

    data = {n: [cell(r.get(n)) for r in rows] for n in names}
    try:
        table = pa.table(data)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # Mixed types in a column (a number here, text there): text for all.
        table = pa.table({n: [csv_cell(r.get(n)) or None for r in rows] for n in names})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


class FileSink:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock

    def folder(self, destination: Destination) -> Path:
        assert destination.folder is not None
        return Path(destination.folder) / destination.segment

    def manifest(self, destination: Destination) -> dict[str, Any] | None:
        path = self.folder(destination) / MANIFEST
        try:
            loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return loaded

    def acknowledged(self, destination: Destination) -> int | None:
        """The feed position the manifest says is written (None: no manifest yet)."""
        found = self.manifest(destination)
        return int(found["seq"]) if found is not None else None

    def deliver(self, destination: Destination, batch: Batch) -> Outcome:
        try:
            self._write(destination, batch)
        except OSError as error:
            # The error's kind, never row values.
            return Outcome(False, None, f"{type(error).__name__}: {error.strerror}", retry=True)
        return Outcome(True)

    def _write(self, destination: Destination, batch: Batch) -> None:
        folder = self.folder(destination)
        folder.mkdir(parents=True, exist_ok=True)
        extension = "parquet" if destination.format == "parquet" else "csv"
        manifest = self.manifest(destination) or {}
        snapshot: dict[str, Any] = manifest.get("snapshot") or {}
        deltas: list[dict[str, Any]] = list(manifest.get("deltas", []))
        if batch.kind == SNAPSHOT:
            if snapshot.get("seq") != batch.to_seq:
                snapshot, deltas = {"seq": batch.to_seq, "complete": False, "files": []}, []
            parts: list[dict[str, Any]] = list(snapshot["files"])
            index = next(
                (i for i, p in enumerate(parts) if p["after_id"] == batch.after_id), len(parts)
            )
            name = f"snapshot-{batch.to_seq}-{index:05d}.{extension}"
            entry = {
                "file": name,
                "after_id": batch.after_id,
                "last_id": batch.last_id,
                "rows": len(batch.rows),
            }
            parts[index : index + 1] = [entry]
            snapshot = {**snapshot, "files": parts, "complete": batch.final}
        else:
            name = f"delta-{batch.from_seq}-{batch.to_seq}.{extension}"
            deltas = [d for d in deltas if d["file"] != name]
            deltas.append(
                {
                    "file": name,
                    "from_seq": batch.from_seq,
                    "to_seq": batch.to_seq,
                    "rows": len(batch.rows),
                }
            )
        names = columns(destination, batch.kind)
        if destination.format == "parquet":
            data = _parquet_bytes(batch.rows, names)
        else:
            data = _csv_bytes(batch.rows, names)
        write_atomically(folder / name, data)
        document = {
            "version": 1,
            "destination": destination.name,
            "segment": destination.segment,
            "format": destination.format,
            "fields": list(destination.fields),
            "columns": {
                "snapshot": columns(destination, SNAPSHOT),
                "delta": columns(destination, "changes"),
            },
            "seq": batch.to_seq,
            "cursor": change_cursor(batch.to_seq),
            "snapshot": snapshot or None,
            "deltas": deltas,
            "updated_at": self.clock().isoformat(),
        }
        write_atomically(
            folder / MANIFEST, json.dumps(document, indent=2, ensure_ascii=False).encode() + b"\n"
        )
