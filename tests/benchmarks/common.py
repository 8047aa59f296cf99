"""What the benchmarks share: the machine description, writing a results table into
docs/benchmarks.md, the FEBRL linkage settings (also used by the FEBRL quality test), and
for benchmarks of a running server: starting `idgraph serve`, timing CLI runs with their
peak memory, reading a process's memory, and open-loop load from a separate process."""

from __future__ import annotations

import asyncio
import contextlib
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
    """`idgraph serve` (one process, as the benchmarks were measured) on a free port, once
    it answers /readyz; its log in work/serve.log."""
    port = free_port()
    log = (work / "serve.log").open("wb")
    command = [IDGRAPH, "serve", "--port", str(port), "--workers", "1"]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
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
    """A finished command: how long it took, its peak resident memory, and the CPU time
    it and its worker processes used (user + system: what a loaded machine changes
    least)."""

    seconds: float
    peak_rss_kib: int
    cpu_seconds: float = 0.0


class CommandFailed(RuntimeError):
    """A measured command exited with an error; the message ends with its last output line."""


def run_measured(command: list[str], env: dict[str, str], log: Path) -> Run:
    """Run ``command`` to completion (its output appended to ``log``), timing it and reading
    its peak resident memory from the kernel's accounting of the child (``wait4``), which
    is the VmHWM the process had when it exited. Raises CommandFailed."""
    with log.open("ab") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        lines = log.read_text(errors="replace").strip().splitlines() or ["(no output)"]
        name = " ".join([Path(command[0]).name, *command[1:2]])
        raise CommandFailed(f"`{name}` failed after {seconds:.0f} s: {lines[-1].strip()}")
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, int(usage.ru_maxrss), cpu)  # KiB on Linux


MAX_CONNECTIONS = 1000
"""Connections an open-loop load holds at most; requests beyond wait for one (their
latency still counts from when they were due)."""


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
    kind: str = ""
    """Why it failed: the HTTP status, the first GraphQL error's ``extensions.code`` (or
    ``graphql``), or the transport error's name; empty when it did not fail."""


def _encoded(host: str, headers: dict[str, str], request: dict[str, Any]) -> bytes:
    """One HTTP/1.1 request, encoded once before the load starts."""
    url = httpx.URL(request["url"], params=request.get("params"))
    body = json.dumps(request["json"]).encode() if "json" in request else b""
    lines = [
        f"{request.get('method', 'GET')} {url.raw_path.decode()} HTTP/1.1",
        f"Host: {host}",
        *(f"{name}: {value}" for name, value in headers.items()),
        *(["Content-Type: application/json"] if body else []),
        f"Content-Length: {len(body)}",
        "",
        "",
    ]
    return "\r\n".join(lines).encode() + body


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body and whether the connection may be reused, of one HTTP/1.1 answer."""
    first = (await reader.readline()).split()
    if not first:
        raise ConnectionResetError("closed before answering")
    status = int(first[1])
    length, chunked, close, json_body = 0, False, False, False
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding":
            chunked = "chunked" in value
        elif name == "connection":
            close = value == "close"
        elif name == "content-type":
            json_body = value.startswith("application/json")
    if chunked:
        parts = []
        while size := int((await reader.readline()).split(b";")[0], 16):
            parts.append(await reader.readexactly(size))
            await reader.readline()
        await reader.readline()
        body = b"".join(parts)
    else:
        body = await reader.readexactly(length)
    return status, body if json_body else b"", not close


async def _open_loop(spec: dict[str, Any]) -> list[list[Any]]:
    # A bare HTTP/1.1 client over asyncio streams, not httpx: under a server that falls
    # behind, thousands of requests wait at once, and httpx's pool spends time per waiting
    # request on every change, until the client itself is late (seen: 47 s behind).
    base = httpx.URL(spec["base"])
    host, port = base.host, base.port or 80
    payloads = [_encoded(f"{host}:{port}", spec["headers"], r) for r in spec["requests"]]
    rate, seconds = float(spec["rate"]), float(spec["seconds"])
    rows: list[list[Any]] = []
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    connections = asyncio.Semaphore(MAX_CONNECTIONS)

    async def one(due: float, payload: bytes) -> None:
        late = time.monotonic() - due
        async with connections:
            status, body, kind = 0, b"", ""
            # A kept-alive connection the server has closed meanwhile (uvicorn closes idle
            # ones after 5 s) answers nothing: the request goes again on a new one.
            for reuse in (bool(idle), False):
                writer = None
                try:
                    if reuse:
                        reader, writer = idle.pop()
                    else:
                        reader, writer = await asyncio.open_connection(host, port)
                    writer.write(payload)
                    status, body, reusable = await asyncio.wait_for(_answer(reader), 120)
                    if reusable:
                        idle.append((reader, writer))
                    else:
                        writer.close()
                    break
                except ConnectionResetError as error:
                    kind = type(error).__name__
                    if writer is not None:
                        writer.close()
                    if not reuse:
                        break
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as error:
                    kind = type(error).__name__
                    if writer is not None:
                        writer.close()
                    break
            failed = not 200 <= status < 300
            if failed and status:
                kind = str(status)
            elif not failed and body:
                try:
                    answer = json.loads(body)
                except ValueError:
                    answer = {"errors": ["not JSON"]}
                failed = isinstance(answer, dict) and bool(answer.get("errors"))
                if failed:
                    first = answer["errors"][0]
                    code = (
                        first.get("extensions", {}).get("code") if isinstance(first, dict) else None
                    )
                    kind = f"graphql {code}" if code else "graphql"
        rows.append(
            [due - start, time.monotonic() - due, late, status, failed, "" if not failed else kind]
        )

    start = time.monotonic()
    tasks = []
    i = 0
    while (due := start + i / rate) < start + seconds:
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        tasks.append(asyncio.create_task(one(due, payloads[i % len(payloads)])))
        i += 1
    await asyncio.gather(*tasks)
    for _, writer in idle:
        writer.close()
    return rows


class OpenLoad:
    """Requests at a fixed arrival rate from a separate process, whatever the server does.

    Request i is due at ``i / rate`` seconds after the start and is sent then, without
    waiting for earlier answers; its latency counts from when it was due, so a server that
    stalls shows as latency (and a queue), not as fewer requests (open loop). Request i is
    ``requests[i % len(requests)]``: ``{"method", "url", "params", "json"}``. The load runs
    in its own Python process so that neither the benchmark's nor the client's work shares
    an interpreter with the measured server, at nice -5 where allowed so that it keeps
    its schedule on a saturated machine; each sample says how late it was sent.
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
        return [
            Sample(d, lat, late, int(s), bool(f), str(k))
            for d, lat, late, s, f, k in json.loads(text)
        ]


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
    # The arrival schedule is the measurement's premise: on a machine whose cores the
    # server saturates, a client at the same priority falls behind it and the delay shows
    # as the server's latency. Where allowed (root), the client runs a little ahead in
    # the scheduler; it needs a few percent of a core.
    with contextlib.suppress(PermissionError):
        os.nice(-5)
    json.dump(asyncio.run(_open_loop(json.load(sys.stdin))), sys.stdout)
