"""A webhook receiver that fails on purpose: a real HTTP server on a free port in a
thread, answering each request with the next step of its script, verifying every
signature, and a consumer that applies what it received the way a careful one would
(de-duplicated by seq)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from identity.destinations import verify
from identity.model import SegmentChange

OK = "200"
"""Script steps: a status ("200", "500", "429", "400", "408"), "503+retry:<seconds>",
"sleep:<seconds>" (answer 200 after that long: past the client's timeout), "close"
(read the request, then drop the connection in the middle of the answer)."""


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    step: str
    signed: bool
    """Whether the signature verified (at the time it arrived)."""

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.body.splitlines() if line]

    @property
    def processed(self) -> bool:
        """Whether a receiver would have applied it: answered 2xx, or its answer lost."""
        return self.step in (OK, "close") or self.step.startswith("sleep")


@dataclass
class Receiver:
    secret: Callable[[], str]
    now: Callable[[], float] = time.time
    """The receiver's clock, for the signature's age (the sender's fake clock in tests)."""
    script: deque[str] = field(default_factory=deque)
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    def will(self, *steps: str) -> None:
        with self.lock:
            self.script.extend(steps)

    def _next(self) -> str:
        with self.lock:
            return self.script.popleft() if self.script else OK

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                step = receiver._next()
                signed = verify(
                    receiver.secret(), headers.get("idgraph-signature", ""), body, receiver.now()
                )
                with receiver.lock:
                    receiver.requests.append(Received(headers, body, step, signed))
                if step == "close":
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\npart")
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if step.startswith("sleep:"):
                    time.sleep(float(step.split(":", 1)[1]))
                    step = OK
                status, _, extra = step.partition("+")
                self.send_response(int(status))
                if extra.startswith("retry:"):
                    self.send_header("Retry-After", extra.split(":", 1)[1])
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def processed(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.processed]


@dataclass
class Consumer:
    """What a consumer following the docs keeps: snapshot rows, then changes applied in
    seq order, each seq once however often it arrives."""

    snapshot: dict[str, dict[str, Any]] = field(default_factory=dict)
    changes: dict[int, dict[str, Any]] = field(default_factory=dict)

    def take(self, requests: Iterable[Received]) -> Consumer:
        for request in requests:
            assert request.signed, request.headers
            for row in request.rows:
                if row["kind"] == "snapshot":
                    self.snapshot[row["profile_id"]] = row
                else:
                    # A repeat of a seq must be the same change.
                    held = self.changes.setdefault(row["seq"], row)
                    assert (held["kind"], held["profile_id"]) == (row["kind"], row["profile_id"])
        return self

    def sequence(self) -> list[tuple[int, str, str, str | None]]:
        return [
            (seq, r["kind"], r["profile_id"], r["merged_into"])
            for seq, r in sorted(self.changes.items())
        ]

    def members(self) -> set[str]:
        held = set(self.snapshot)
        for _, row in sorted(self.changes.items()):
            if row["kind"] == "entered":
                held.add(row["profile_id"])
            else:
                held.discard(row["profile_id"])
        return held


def feed(changes: Iterable[SegmentChange]) -> list[tuple[int, str, str, str | None]]:
    return [(c.seq, c.kind.value, c.profile_id, c.merged_into) for c in changes]
