"""The console's browser: Debian's chromium driven by Playwright (no browser is downloaded),
what went wrong on a page, and screenshots kept as test artefacts."""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Error,
    Page,
    Playwright,
    Request,
    ViewportSize,
)

from tests.e2e import chromium

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "console"
VIEWPORT: ViewportSize = {"width": 1400, "height": 900}
CHROMIUM_ARGS = (
    # Playwright adds --headless itself (chromium's new headless mode, the only one since
    # Chrome 132), so it is not repeated here.
    "--no-sandbox",  # containers run as root without user namespaces
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Every host name but the server's resolves to nothing, as on a machine without
    # internet: a console that loads a script or font from a CDN shows it as a failed
    # request, and no test reaches out.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)


def launch(playwright: Playwright) -> Browser:
    """One chromium, headless, for the whole run."""
    return playwright.chromium.launch(executable_path=chromium(), args=list(CHROMIUM_ARGS))


@dataclass
class PageTrouble:
    """What a page logged while a test used it: uncaught exceptions fail the test, console
    errors and failed requests are reported with it."""

    uncaught: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    @classmethod
    def watch(cls, page: Page) -> PageTrouble:
        trouble = cls()
        page.on("pageerror", trouble._on_uncaught)
        page.on("console", trouble._on_console)
        page.on("requestfailed", trouble._on_request_failed)
        return trouble

    def _on_uncaught(self, error: Error) -> None:
        self.uncaught.append(error.stack or f"{error.name}: {error.message}")

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location
            self.console_errors.append(f"{message.text} ({where['url']}:{where['lineNumber']})")

    def _on_request_failed(self, request: Request) -> None:
        self.failed_requests.append(f"{request.method} {request.url}: {request.failure}")

    def report(self) -> str:
        sections = (
            ("uncaught JavaScript errors", self.uncaught),
            ("console errors", self.console_errors),
            ("failed requests", self.failed_requests),
        )
        lines: list[str] = []
        for title, found in sections:
            if found:
                lines += [f"{title}:", *(f"  {x}" for x in found)]
        return "\n".join(lines)


_TEST_OF_PAGE: weakref.WeakKeyDictionary[Page, str] = weakref.WeakKeyDictionary()
"""The test each page of the ``page`` fixture belongs to, for screenshot names."""


def file_name(name: str) -> str:
    """A test or screenshot name as a file name: ``test_x[a/b]`` -> ``test_x-a-b``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")


def belongs_to(page: Page, test_name: str) -> None:
    _TEST_OF_PAGE[page] = test_name


def screenshot(page: Page, stem: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{file_name(stem)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def shot(page: Page, name: str) -> Path:
    """A full-page screenshot now, as ``test-artifacts/console/<test>--<name>.png`` (the
    test the ``page`` fixture made the page for; ``<name>.png`` for another page)."""
    test = _TEST_OF_PAGE.get(page)
    return screenshot(page, f"{test}--{name}" if test else name)
