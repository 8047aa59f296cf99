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
from playwright.sync_api import (
    TimeoutError as PlaywrightTimeout,
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


_PROBABILISTIC_MIDPOINTS = """() => {
  const cy = window.idgraphConsole.cy;
  const box = cy.container().getBoundingClientRect();
  return cy.edges("edge.probabilistic").map((edge) => {
    const middle = edge.renderedMidpoint();
    const end = (node) => node.data("ref");
    return [box.left + middle.x, box.top + middle.y, end(edge.source()), end(edge.target())];
  });
}"""


def click_a_probabilistic_link(page: Page) -> tuple[str, str]:
    """Click the middle of a probabilistic link in the cluster graph, as a steward would,
    until the explanation that opens is that link's (another line may cross a link's
    middle: the click then explains that one, or nothing); the two records' refs."""
    explanation = page.get_by_test_id("link-explanation")
    tried = page.evaluate(_PROBABILISTIC_MIDPOINTS)
    assert tried, "the graph draws no probabilistic link"
    for x, y, a, b in tried:
        page.mouse.click(x, y)
        ends = (f"{a['source']}/{a['key']}", f"{b['source']}/{b['key']}")
        try:
            explanation.wait_for(timeout=2000)
        except PlaywrightTimeout:
            continue
        text = explanation.inner_text()
        if "probabilistic match" in text and all(end in text for end in ends):
            return ends
        explanation.get_by_role("button", name="Close the explanation").click()
    raise AssertionError(f"no click on the middle of {len(tried)} probabilistic links explained it")
