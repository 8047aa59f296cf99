"""What the benchmarks share: the machine description, writing a results table into
docs/benchmarks.md, and the FEBRL linkage settings (also used by the FEBRL quality test)."""

from __future__ import annotations

import math
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
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


IDGRAPH = str(Path(sys.executable).with_name("idgraph"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50, p95, p99 and max of durations in seconds, in milliseconds."""
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)] * 1000

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": ordered[-1] * 1000}


def serve(env: dict[str, str], work: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`idgraph serve` on a free port, once it answers /readyz; its log in work/serve.log."""
    port = free_port()
    log = (work / "serve.log").open("wb")
    process = subprocess.Popen(
        [IDGRAPH, "serve", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.terminate()
    sys.exit(f"the server did not start: see {work / 'serve.log'}")
