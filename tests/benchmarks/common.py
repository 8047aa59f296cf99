"""What the benchmarks share: the machine description, writing a results table into
docs/benchmarks.md, and the FEBRL linkage settings (also used by the FEBRL quality test)."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import pandas as pd

from identity.normalise import normalise_text
from identity.rules import SortedNeighbourhoodRule

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "benchmarks.md"


def write_section(name: str, text: str, heading: str) -> None:
    """Replace the text between ``<!-- name:begin -->`` and ``<!-- name:end -->`` in
    docs/benchmarks.md, adding the markers under ``heading`` at the end if missing."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    doc = DOC.read_text()
    if begin not in doc or end not in doc:
        doc = f"{doc.rstrip()}\n\n## {heading}\n\n{begin}\n{end}\n"
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    DOC.write_text(f"{head}{begin}\n{text}\n{end}{tail}")
    print(f"updated {DOC.relative_to(ROOT)}", file=sys.stderr)


FEBRL_FIELDS = {
    "given_name": "first_name",
    "surname": "name",
    "date_of_birth": "date",
    "soc_sec_id": "id",
    "street_number": "id",
    "address_1": "address",
    "suburb": "text",
    "postcode": "postcode",
    "state": "text",
}
FEBRL_BLOCKING: list[list[str] | SortedNeighbourhoodRule] = [
    ["surname:sound"],
    ["given_name:sound"],
    ["date_of_birth"],
    ["soc_sec_id"],
    # Neighbouring ids: a typo in the last digits of the social security id (FEBRL 3's
    # blocking recall 0.9980 -> 0.9991, 10% more pairs).
    SortedNeighbourhoodRule("soc_sec_id", window=3),
    ["postcode", "street_number"],
]


def febrl_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """The compared FEBRL fields, normalised as text, blanks as missing."""
    frame = pd.DataFrame(index=raw.index)
    for name in FEBRL_FIELDS:
        frame[name] = [
            normalise_text(v) if isinstance(v, str) and v.strip() else None for v in raw[name]
        ]
    return frame


def machine() -> str:
    """Cores, CPU model and Python version, for the benchmark tables."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"
