"""Export processes: a large segment export is made by a helper process at a lower CPU
priority, so the API process only forwards bytes and the lookups it serves meanwhile do not
wait behind the export for its GIL (docs/activation.md, "Export processes")."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Literal, NamedTuple

import anyio.to_thread

from identity.graph import IdentityGraph
from service.config import Settings
from service.segment_export import ExportFormat, export_body

log = logging.getLogger(__name__)

SPAWN = multiprocessing.get_context("spawn")

START_SECONDS = 60.0
"""Longest wait for a helper to take up an export (a new one first imports the service and
opens the store, a second or two); past it the API process exports instead."""
STOP_SECONDS = 5.0
"""Longest wait for a helper to exit once terminated, at shutdown, before it is killed."""

# Each message of a helper is one pipe message whose first byte says what it is.
STARTED = b"S"  # the export is audited and under way: chunks follow
REFUSED = b"R"  # the export could not start (nothing audited); text: why
DATA = b"D"  # a chunk of the body follows the tag
END = b"E"  # the body is complete
FAILED = b"F"  # the export failed after it started; text: why

Where = Literal["export_process", "api_process"]


class ExportRequest(NamedTuple):
    """What a helper is asked to export, as the route would call :func:`export_body`."""

    name: str
    fields: tuple[str, ...]
    reveals: bool
    fmt: ExportFormat
    actor: str


def serve(settings: Settings, conn: Connection) -> None:
    """A helper's life: lower its priority, open its own graph, answer requests one at a
    time until the API process closes its end of the pipe (or exits)."""
    # A Ctrl-C in a terminal reaches the whole process group; the API process stops its
    # helpers itself at shutdown.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.nice(settings.export_nice)
    graph = settings.open_graph()
    try:
        while True:
            try:
                request: ExportRequest = conn.recv()
            except (EOFError, OSError):
                return
            _answer(graph, request, conn)
    finally:
        graph.close()


def _answer(graph: IdentityGraph, request: ExportRequest, conn: Connection) -> None:
    name, fields, reveals, fmt, actor = request
    try:
        body = export_body(graph, name, fields, reveals, fmt, actor)
    except Exception as error:
        # Nothing was audited: the API process runs the export and answers its error.
        conn.send_bytes(REFUSED + f"{type(error).__name__}: {error}".encode())
        return
    conn.send_bytes(STARTED)
    try:
        for chunk in body:
            conn.send_bytes(DATA + chunk)
    except ConnectionError:
        raise  # the pipe broke: the API process went away, the helper ends with it
    except Exception as error:
        conn.send_bytes(FAILED + f"{type(error).__name__}: {error}".encode())
        return
    conn.send_bytes(END)


@dataclass(eq=False)
class Helper:
    """A helper process and the API process's end of its pipe."""

    process: BaseProcess
    conn: Connection
    started: bool = False

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def stop(self, close_pipe: bool = True) -> None:
        """Terminate it (it may be blocked writing into the pipe) and close the pipe, unless
        a thread may still be reading it: then the pipe closes when nothing refers to it
        (closed under the reader, its descriptor could be reused and read by mistake)."""
        if self.started and self.process.is_alive():
            self.process.terminate()
        if close_pipe:
            self.conn.close()


class ExportPool:
    """The export processes of one API process; ``processes=0`` exports everything in the
    API process. Thread-safe: routes call :meth:`body` from the threadpool."""

    def __init__(self, settings: Settings, processes: int) -> None:
        self.settings = settings
        self.processes = processes
        self.exports: dict[Where, int] = {"export_process": 0, "api_process": 0}
        """Exports begun, by where their body was made (``/metrics``)."""
        self._lock = threading.Lock()
        self._idle: list[Helper] = []
        self._busy: set[Helper] = set()
        self._stopped: list[Helper] = []
        self._closed = False

    def pids(self) -> list[int]:
        """The process ids of the helpers started and not yet stopped, idle or busy."""
        with self._lock:
            helpers = [*self._idle, *self._busy]
        return sorted(h.pid for h in helpers if h.started and h.pid is not None)

    def body(
        self,
        graph: IdentityGraph,
        size: int,
        request: ExportRequest,
    ) -> Iterator[bytes] | AsyncIterator[bytes]:
        """The export's body: streamed from a helper if the segment has ``size`` members,
        enough for one, and one is free; else made here by :func:`export_body` (which
        audits and raises UnknownSegment, InvalidArgument). Blocking: call it from a
        worker thread."""
        stream = self._open(size, request)
        if stream is not None:
            self._count("export_process")
            return stream
        body = export_body(graph, *request)
        self._count("api_process")
        return body

    def _count(self, where: Where) -> None:
        with self._lock:
            self.exports[where] += 1

    def _open(self, size: int, request: ExportRequest) -> AsyncIterator[bytes] | None:
        if self.processes == 0 or size < self.settings.export_process_min_members:
            return None
        while True:
            helper = self._take()
            if helper is None:
                log.debug(
                    "every export process is busy: exporting %r in the API process", request.name
                )
                return None
            reused = helper.started
            try:
                if not helper.started:
                    helper.process.start()
                    helper.started = True
                helper.conn.send(request)
                if not helper.conn.poll(START_SECONDS):
                    raise TimeoutError(f"no answer in {START_SECONDS:.0f}s")
                reply = helper.conn.recv_bytes()
                break
            except Exception as error:
                # It could not start, or died before it answered: nothing was audited there.
                self._finish(helper, reusable=False)
                if reused:
                    # Killed or crashed since its last export, seen only now: a new one.
                    log.warning(
                        "export process %s is gone (%s); starting another",
                        helper.pid,
                        _reason(error, helper),
                    )
                    continue
                log.warning(
                    "export process %s failed before exporting %r (%s): exporting in the API "
                    "process",
                    helper.pid,
                    request.name,
                    _reason(error, helper),
                )
                return None
        if reply[:1] != STARTED:
            log.debug(
                "export process refused %r (%s): the API process answers",
                request.name,
                reply[1:].decode(errors="replace"),
            )
            self._finish(helper, reusable=True)
            return None
        return self._forward(helper, request.name)

    def _take(self) -> Helper | None:
        """An idle live helper, or a new one not yet started; None when all are busy."""
        with self._lock:
            if self._closed:
                return None
            while self._idle:
                helper = self._idle.pop()
                if helper.process.is_alive():
                    self._busy.add(helper)
                    return helper
                # Killed or crashed between exports: its place goes to a new one.
                log.warning(
                    "export process %s exited (code %s) while idle; starting another",
                    helper.pid,
                    helper.process.exitcode,
                )
                helper.stop()
            if len(self._busy) >= self.processes:
                return None
            mine, theirs = SPAWN.Pipe()
            process = SPAWN.Process(
                target=serve,
                args=(self.settings, theirs),
                name="idgraph-export",
                daemon=True,  # multiprocessing stops it if the API process exits first
            )
            helper = Helper(process, mine)
            self._busy.add(helper)
        return helper

    def _finish(self, helper: Helper, reusable: bool, close_pipe: bool = True) -> None:
        """Give ``helper`` back to the pool, or stop it and free its place."""
        with self._lock:
            self._busy.discard(helper)
            if reusable and not self._closed and helper.process.is_alive():
                self._idle.append(helper)
                return
            self._stopped.append(helper)
            # Stopped ones are reaped here, now and then, not waited for.
            self._stopped = [h for h in self._stopped if h.started and h.process.is_alive()]
        helper.stop(close_pipe)

    async def _forward(self, helper: Helper, name: str) -> AsyncIterator[bytes]:
        """The helper's chunks as they come; the blocking reads run in a worker thread so
        that the event loop serves other requests meanwhile."""
        complete = reading = False
        try:
            while True:
                # Abandoned on cancellation (``reading`` stays true): stopping the helper
                # ends the read.
                reading = True
                try:
                    message = await anyio.to_thread.run_sync(
                        helper.conn.recv_bytes, abandon_on_cancel=True
                    )
                except (EOFError, OSError) as error:
                    reading = False
                    # The status line is sent: the client sees a short body.
                    log.error(
                        "export process %s died exporting %r (%s): the response ends early",
                        helper.pid,
                        name,
                        _reason(error, helper),
                    )
                    return
                reading = False
                tag = message[:1]
                if tag == DATA:
                    yield message[1:]
                    continue
                complete = True
                if tag != END:
                    log.error(
                        "export of %r failed in export process %s (%s): the response ends early",
                        name,
                        helper.pid,
                        message[1:].decode(errors="replace"),
                    )
                return
        finally:
            # Not complete: the client went away (or the helper died) while the helper may
            # be writing into the pipe; only a new helper is sure to start clean.
            self._finish(helper, reusable=complete, close_pipe=not reading)

    def close(self) -> None:
        """Stop every helper: terminate, wait a little, then kill (blocking)."""
        with self._lock:
            self._closed = True
            idle = self._idle
            helpers = [*idle, *self._busy, *self._stopped]
            self._idle, self._busy, self._stopped = [], set(), []
        for helper in helpers:
            # A busy helper's pipe is closed by its stream, whose read ends now; a stopped
            # one's is closed already, or left to its abandoned reader.
            helper.stop(close_pipe=helper in idle)
        for helper in helpers:
            if not helper.started:
                continue
            helper.process.join(STOP_SECONDS)
            if helper.process.is_alive():
                log.warning("export process %s did not stop: killing it", helper.pid)
                helper.process.kill()
                helper.process.join(STOP_SECONDS)


def _reason(error: BaseException, helper: Helper) -> str:
    if helper.started and not helper.process.is_alive():
        return f"exit code {helper.process.exitcode}"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
