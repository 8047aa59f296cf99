"""The console's screenshots in docs/img/, made the way the browser tests see it: a live
`idgraph demo --serve` on 300 demo people and Debian's chromium.

    .venv/bin/python -m tests.console.screenshots [--out docs/img]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from tests.console.browser import VIEWPORT, click_a_probabilistic_link, launch
from tests.console.demo_server import DemoServer, demo_server


def open_page(page: Page, server: DemoServer, where: str, token: str) -> None:
    page.goto(f"{server.base_url}/console/{where}?token={token}")
    page.locator("header.top nav").wait_for()
    page.wait_for_load_state("networkidle")


def take(server: DemoServer, page: Page, out: Path) -> list[Path]:
    made: list[Path] = []

    def save(name: str, full_page: bool = False) -> None:
        path = out / f"console-{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        made.append(path)

    person = server.person
    open_page(page, server, f"#/search?q={person.email}", server.steward_token)
    page.get_by_test_id("search-results").wait_for()
    save("search")

    open_page(page, server, f"#/profile/{person.profile_id}", server.steward_token)
    page.locator("#cluster-graph canvas").first.wait_for()
    click_a_probabilistic_link(page)
    save("profile")

    open_page(page, server, f"#/profile/{person.profile_id}", server.no_pii_token)
    page.locator("#cluster-graph canvas").first.wait_for()
    save("masked")

    open_page(page, server, "#/review", server.steward_token)
    page.get_by_test_id("review-pair").locator("article dl").first.wait_for()
    save("review")

    open_page(page, server, "#/suspicious", server.steward_token)
    page.get_by_test_id("suspicious").wait_for()
    save("suspicious")

    open_page(page, server, "#/quality", server.steward_token)
    page.get_by_test_id("chart-warnings").wait_for()
    save("quality", full_page=True)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as folder,
        demo_server(Path(folder)) as server,
        sync_playwright() as driver,
    ):
        browser = launch(driver)
        page = browser.new_context(viewport=VIEWPORT).new_page()
        for path in take(server, page, args.out):
            print(path)
        browser.close()


if __name__ == "__main__":
    main()
