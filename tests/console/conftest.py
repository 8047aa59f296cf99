"""Fixtures of the console's browser tests: one live server on the demo data and one
chromium for the whole run, a fresh browser context and page for each test.

The server and the browser are package-scoped: started once for every test of this folder
(a session fixture's lifetime, for tests that can see it), and stopped when the folder is
done rather than kept through the rest of a 14-minute suite."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.console.browser import VIEWPORT, PageTrouble, belongs_to, launch, screenshot
from tests.console.demo_server import DemoServer, demo_server

STARTUP: dict[str, float] = {}
"""Seconds each part of the harness took to start, for the summary at the end."""


HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test of this folder drives the browser: marked ``browser``, so that
    ``-m "not browser"`` leaves the folder out."""
    for item in items:  # the session's items, not only this folder's
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="package")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """`idgraph serve` on the demo data (300 people, seed 7) with a steward's token, a
    token without pii:read, a demo person and an undecided review pair."""
    with demo_server(tmp_path_factory.mktemp("console")) as server:
        STARTUP.update(server.timings)
        yield server


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    started = time.monotonic()
    with sync_playwright() as driver:  # Playwright's Node driver, a process of its own
        STARTUP["playwright"] = time.monotonic() - started
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """One headless chromium (Debian's) for the whole run."""
    started = time.monotonic()
    chromium = launch(playwright)
    STARTUP["chromium"] = time.monotonic() - started
    yield chromium
    chromium.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page in a context of its own (no cookies or storage shared between tests), 1400 by
    900. At the end its full-page screenshot goes to test-artifacts/console/<test>.png, and
    the test fails if the page threw an uncaught JavaScript error."""
    context = browser.new_context(viewport=VIEWPORT)
    tab = context.new_page()
    trouble = PageTrouble.watch(tab)
    belongs_to(tab, request.node.name)
    try:
        yield tab
    finally:
        try:
            if not tab.is_closed():
                screenshot(tab, request.node.name)
        finally:
            context.close()
    report = trouble.report()
    if trouble.uncaught:
        pytest.fail(f"the page threw an uncaught JavaScript error:\n{report}", pytrace=False)
    if report:
        print(f"page of {request.node.name}:\n{report}")  # shown with a failure


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed console test shows the end of the server's log beside its own output."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    server = getattr(item, "funcargs", {}).get("console_server")
    if report.failed and isinstance(server, DemoServer):
        report.sections.append(("idgraph serve log (last lines)", server.log_tail()))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if STARTUP:
        steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in STARTUP.items())
        total = sum(STARTUP.values())
        terminalreporter.write_line(f"console harness started in {total:.1f} s ({steps})")
