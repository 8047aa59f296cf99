"""The file sink: each batch a new immutable file in ``FOLDER/SEGMENT/`` (CSV, or Parquet
with pyarrow), plus ``manifest.json`` listing them, each written to a temporary file,
fsynced and renamed into place, so a loader never sees half a file.

Layout (docs/activation.md)::

    FOLDER/SEGMENT/snapshot-<seq>-<part>.csv   profile_id, fields...
    FOLDER/SEGMENT/delta-<from>-<to>.csv       seq, kind, at, profile_id, merged_into, fields...
    FOLDER/SEGMENT/manifest.json

``manifest.json`` (version 2) names the newest whole ``snapshot`` (or the first while it
is written), a newer one being written (``next_snapshot``, with ``--snapshot-every``) and
the ``deltas`` written since the snapshot began, in order: a loader starts from the
snapshot and applies the deltas. When a newer snapshot is whole it replaces the older in
the manifest, and deltas wholly before it leave the list (their files stay).

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

    def now(self) -> str:
        return self.clock().isoformat()

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

    def _snapshot_part(
        self,
        batch: Batch,
        extension: str,
        snapshot: dict[str, Any] | None,
        pending: dict[str, Any] | None,
    ) -> str:
        """The file of a snapshot page: the one the same page had (a retry after a crash
        rewrites it), or the next part."""
        parts: list[dict[str, Any]] = []
        for candidate in (snapshot, pending):
            if candidate is not None and candidate["seq"] == batch.to_seq:
                parts = candidate["files"]
        index = next(
            (i for i, p in enumerate(parts) if p["after_id"] == batch.after_id), len(parts)
        )
        return f"snapshot-{batch.to_seq}-{index:05d}.{extension}"

    def _with_part(self, snapshot: dict[str, Any], batch: Batch, name: str) -> dict[str, Any]:
        parts: list[dict[str, Any]] = list(snapshot["files"])
        entry = {
            "file": name,
            "after_id": batch.after_id,
            "last_id": batch.last_id,
            "rows": len(batch.rows),
        }
        index = next((i for i, p in enumerate(parts) if p["file"] == name), len(parts))
        parts[index : index + 1] = [entry]
        if snapshot["complete"] or not batch.final:
            return {**snapshot, "files": parts}  # a page written again keeps it whole
        return {**snapshot, "files": parts, "complete": True, "completed_at": self.now()}

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
        snapshot: dict[str, Any] | None = manifest.get("snapshot")
        pending: dict[str, Any] | None = manifest.get("next_snapshot")
        deltas: list[dict[str, Any]] = list(manifest.get("deltas", []))
        if batch.kind == SNAPSHOT:
            name = self._snapshot_part(batch, extension, snapshot, pending)
            seq = batch.to_seq
            if snapshot is not None and snapshot["seq"] == seq:
                snapshot = self._with_part(snapshot, batch, name)
            elif pending is not None and pending["seq"] == seq:
                pending = self._with_part(pending, batch, name)
            elif snapshot is not None and snapshot.get("complete") and seq < snapshot["seq"]:
                pass  # a replayed page of an older snapshot: its file is rewritten only
            else:
                begun = {"seq": seq, "complete": False, "begun_at": self.now(), "files": []}
                begun = self._with_part(begun, batch, name)
                if snapshot is not None and snapshot.get("complete"):
                    pending = begun  # the current snapshot stands until this one is whole
                else:
                    snapshot = begun
            if pending is not None and pending["complete"]:
                snapshot, pending = pending, None
            if snapshot is not None and snapshot["complete"]:
                # Deltas wholly before the newest whole snapshot are in it: the manifest
                # lists only what a loader applies after it (their files stay).
                deltas = [d for d in deltas if d["to_seq"] > snapshot["seq"]]
        else:
            name = f"delta-{batch.from_seq}-{batch.to_seq}.{extension}"
            deltas = [d for d in deltas if d["file"] != name]
            # A delta wholly before a whole snapshot (written after it, as a recurring
            # snapshot overtook the cursor) is in it: its file only, not listed.
            if snapshot is None or not snapshot["complete"] or batch.to_seq > snapshot["seq"]:
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
        # The feed position written: a delta's end; for a snapshot page, the destination's
        # cursor (a recurring snapshot leaves the deltas where they were). Never backwards.
        position = batch.to_seq if batch.kind != SNAPSHOT else batch.from_seq
        position = max(position, int(manifest.get("seq", position)))
        document = {
            "version": 2,
            "destination": destination.name,
            "segment": destination.segment,
            "format": destination.format,
            "fields": list(destination.fields),
            "columns": {
                "snapshot": columns(destination, SNAPSHOT),
                "delta": columns(destination, "changes"),
            },
            "seq": position,
            "cursor": change_cursor(position),
            "snapshot": snapshot,
            "next_snapshot": pending,
            "deltas": deltas,
            "updated_at": self.clock().isoformat(),
        }
        write_atomically(
            folder / MANIFEST, json.dumps(document, indent=2, ensure_ascii=False).encode() + b"\n"
        )
