"""Starts the development Neo4j (``tools/neo4j-server``: Neo4j 5.26 Community embedded, Bolt on
loopback) for a test session, and stops it.

The launcher is built by ``make neo4j-server`` (a dependency of ``make test``); it prints the
Bolt URI only once a Bolt handshake succeeds, and stops when its standard input closes, so a
test run that dies does not leave a JVM behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
JAR = ROOT / "tools" / "neo4j-server" / "target" / "idgraph-neo4j-server.jar"
HEAP = "1g"
"""The JVM's heap cap: the machine is shared, and the contract suite's data is small."""
START_TIMEOUT = 180.0
STOP_TIMEOUT = 60.0
USER = "neo4j"


class Neo4jServerError(RuntimeError):
    """The development Neo4j could not be started; the message says why and what to do."""


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise Neo4jServerError("no java on PATH (nor JAVA_HOME): install OpenJDK 17 or 21")
    return found


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class LocalNeo4j:
    """One running development server: its Bolt URI, credentials and home directory."""

    def __init__(self, process: subprocess.Popen[bytes], home: Path, uri: str, password: str):
        self.process = process
        self.home = home
        self.uri = uri
        self.user = USER
        self.password = password

    @classmethod
    def start(cls, heap: str = HEAP, pagecache: str | None = None) -> LocalNeo4j:
        """A fresh server in a new temporary directory; ``pagecache`` None keeps the
        launcher's default (64m)."""
        if not JAR.is_file():
            raise Neo4jServerError(
                f"{JAR.relative_to(ROOT)} is missing: build it with `make neo4j-server` "
                "(Maven resolves Neo4j 5.26 from Maven Central once)"
            )
        home = Path(tempfile.mkdtemp(prefix="idgraph-neo4j-"))
        log = home / "server.log"
        uri_file = home / "uri"
        # Authentication on, as in production: the store's credential path is exercised too.
        password = secrets.token_urlsafe(18)
        command = [
            _java(),
            f"-Xmx{heap}",
            "-Xms64m",
            "-XX:+ExitOnOutOfMemoryError",
            "-jar",
            str(JAR),
            "--data",
            str(home / "dbms"),
            "--port",
            "0",
            "--auth",
            USER,
            "--uri-file",
            str(uri_file),
            "--exit-on-stdin-eof",
            *(["--pagecache", pagecache] if pagecache else []),
        ]
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "NEO4J_PASSWORD": password},
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not uri_file.is_file():
            if process.poll() is not None:
                raise Neo4jServerError(
                    f"the development Neo4j exited with {process.returncode} before it was "
                    f"ready; its log ({log}):\n{_tail(log)}"
                )
            if time.monotonic() > deadline:
                cls._end(process)
                raise Neo4jServerError(
                    f"the development Neo4j was not ready after {START_TIMEOUT:.0f} s; its log "
                    f"({log}):\n{_tail(log)}"
                )
            time.sleep(0.2)
        return cls(process, home, uri_file.read_text().strip(), password)

    @staticmethod
    def _end(process: subprocess.Popen[bytes]) -> None:
        process.terminate()  # SIGTERM: the launcher's shutdown hook stops the DBMS cleanly
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()

    def stop(self) -> None:
        self._end(self.process)
        shutil.rmtree(self.home, ignore_errors=True)
