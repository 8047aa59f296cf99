"""End-to-end tests against a real uvicorn process, and what the other suites of real
processes (tests/fault, tests/console) share with them: a free port, waiting for a server,
the machine's chromium."""

import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

NEEDS_CHROMIUM = "this test needs Debian's chromium: apt-get install chromium"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def chromium() -> str:
    """The path of Debian's chromium; the test fails, not skips, without it (.ci/run
    installs it, and a browser test skipped everywhere would prove nothing)."""
    path = shutil.which("chromium")
    if path is None:
        pytest.fail(NEEDS_CHROMIUM)
    return path


def wait_until_answering(
    client: httpx.Client, path: str, process: subprocess.Popen[bytes], log: Path, name: str
) -> None:
    """Until ``path`` answers 200; the test fails with the server's log if the process
    ends first or a minute passes (a loaded CI machine starts slowly)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if client.get(path).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{name} did not start:\n{log.read_text()}")
        time.sleep(0.05)
