"""What the benchmarks share: the machine description, writing a results table into
docs/benchmarks.md, the FEBRL linkage settings (also used by the FEBRL quality test), and
for benchmarks of a running server: starting `idgraph serve`, timing CLI runs with their
peak memory, reading a process's memory, and open-loop load from a separate process."""

from __future__ import annotations

import asyncio
import json
import math
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, as the tables state them."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def rss_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak since start) of a running process, in KiB."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0])
    return found


class RssSampler(threading.Thread):
    """Samples a process's resident memory every 20 ms until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, rss_kib(self.pid)["VmRSS"])
            self._done.wait(0.02)

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak


@dataclass(frozen=True)
class Run:
    """A finished command: how long it took and its peak resident memory."""

    seconds: float
    peak_rss_kib: int


def run_measured(command: list[str], env: dict[str, str], log: Path) -> Run:
    """Run ``command`` to completion (its output appended to ``log``), timing it and reading
    its peak resident memory from the kernel's accounting of the child (``wait4``), which
    is the VmHWM the process had when it exited."""
    with log.open("ab") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"{' '.join(command[:3])} ... failed ({process.returncode}): see {log}")
    return Run(seconds, int(usage.ru_maxrss))  # KiB on Linux


@dataclass(frozen=True)
class Sample:
    """One request of an open-loop load."""

    due: float
    """Seconds from the start of the load at which it was due."""
    latency: float
    """Seconds from when it was due to the end of its answer."""
    late: float
    """Seconds from when it was due to when the client sent it (the client's own lag)."""
    status: int
    """The HTTP status; 0 for a transport error or a timeout."""
    failed: bool
    """Not a 2xx answer, or a JSON object answer with a non-empty ``errors``."""


async def _open_loop(spec: dict[str, Any]) -> list[list[Any]]:
    requests: list[dict[str, Any]] = spec["requests"]
    rate, seconds = float(spec["rate"]), float(spec["seconds"])
    rows: list[list[Any]] = []
    limits = httpx.Limits(max_connections=500, max_keepalive_connections=100)
    async with httpx.AsyncClient(
        base_url=spec["base"], headers=spec["headers"], limits=limits, timeout=120
    ) as client:

        async def one(due: float, request: dict[str, Any]) -> None:
            late = time.monotonic() - due
            try:
                response = await client.request(
                    request.get("method", "GET"),
                    request["url"],
                    params=request.get("params"),
                    json=request.get("json"),
                )
                status = response.status_code
                failed = not 200 <= status < 300
                if not failed and response.headers.get("content-type", "").startswith(
                    "application/json"
                ):
                    body = response.json()
                    failed = isinstance(body, dict) and bool(body.get("errors"))
            except httpx.HTTPError:
                status, failed = 0, True
            rows.append([due - start, time.monotonic() - due, late, status, failed])

        start = time.monotonic()
        tasks = []
        i = 0
        while (due := start + i / rate) < start + seconds:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            tasks.append(asyncio.create_task(one(due, requests[i % len(requests)])))
            i += 1
        await asyncio.gather(*tasks)
    return rows


class OpenLoad:
    """Requests at a fixed arrival rate from a separate process, whatever the server does.

    Request i is due at ``i / rate`` seconds after the start and is sent then, without
    waiting for earlier answers; its latency counts from when it was due, so a server that
    stalls shows as latency (and a queue), not as fewer requests (open loop). Request i is
    ``requests[i % len(requests)]``: ``{"method", "url", "params", "json"}``. The load runs
    in its own Python process so that neither the benchmark's nor the client's work shares
    an interpreter with the measured server.
    """

    def __init__(
        self,
        base: str,
        requests: list[dict[str, Any]],
        rate: float,
        seconds: float,
        headers: dict[str, str] | None = None,
    ) -> None:
        spec = {
            "base": base,
            "requests": requests,
            "rate": rate,
            "seconds": seconds,
            "headers": headers or {},
        }
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.benchmarks.common", "open-loop"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
        )
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(spec).encode())
        self._process.stdin.close()

    def samples(self) -> list[Sample]:
        """Waits for the load to end; its requests in the order they were answered."""
        assert self._process.stdout is not None
        text = self._process.stdout.read()
        if self._process.wait() != 0:
            sys.exit("the open-loop load process failed")
        return [Sample(d, lat, late, int(s), bool(f)) for d, lat, late, s, f in json.loads(text)]


def open_load(
    base: str,
    requests: list[dict[str, Any]],
    rate: float,
    seconds: float,
    headers: dict[str, str] | None = None,
) -> list[Sample]:
    """An :class:`OpenLoad` run to its end."""
    return OpenLoad(base, requests, rate, seconds, headers).samples()


if __name__ == "__main__" and sys.argv[1:] == ["open-loop"]:
    json.dump(asyncio.run(_open_loop(json.load(sys.stdin))), sys.stdout)
