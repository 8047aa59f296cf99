"""End-to-end tests against a real uvicorn process."""

import subprocess
import time
from pathlib import Path

import httpx
import pytest


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
