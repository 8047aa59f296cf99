"""The harness itself, proven on a page that already exists (GraphiQL at /graphql): the live
server answers the browser, the two tokens carry their scopes, and personal values reach a
token without pii:read masked."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, Page

from service.masking import mask_email
from tests.console.browser import PageTrouble, shot
from tests.console.demo_server import DemoServer

PROFILE = """query ($id: ID!) {
  profile(id: $id) { id records { source key } identifiers { kind value } }
}"""

# Sent by the page itself, so the browser's origin, headers and CORS are what is tested.
FETCH = """async ([query, variables, token]) => {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: {"Content-Type": "application/json", "Authorization": `Bearer ${token}`},
    body: JSON.stringify({query, variables}),
  });
  return {status: response.status, body: await response.json()};
}"""


def open_graphiql(page: Page, server: DemoServer) -> None:
    page.goto(f"{server.base_url}/graphql")
    page.locator(".graphiql-editor").first.wait_for()
    page.locator(".graphiql-execute-button").wait_for()


def profile_from_the_page(page: Page, server: DemoServer, token: str) -> dict[str, Any]:
    answer = page.evaluate(FETCH, [PROFILE, {"id": server.person.profile_id}, token])
    assert answer["status"] == 200, answer
    assert "errors" not in answer["body"], answer["body"]
    profile: dict[str, Any] = answer["body"]["data"]["profile"]
    return profile


def emails(profile: dict[str, Any]) -> list[str]:
    return [i["value"] for i in profile["identifiers"] if i["kind"] == "email"]


def test_graphiql_opens_and_a_steward_reads_the_demo_person_from_the_page(
    page: Page, console_server: DemoServer
) -> None:
    open_graphiql(page, console_server)
    shot(page, "graphiql")

    profile = profile_from_the_page(page, console_server, console_server.steward_token)

    assert profile["id"] == console_server.person.profile_id
    sources = {r["source"] for r in profile["records"]}
    assert sources == set(console_server.person.sources) and len(sources) >= 3
    assert console_server.person.email in emails(profile)


def test_a_token_without_pii_read_gets_the_same_profile_with_its_emails_masked(
    page: Page, console_server: DemoServer
) -> None:
    open_graphiql(page, console_server)

    seen = profile_from_the_page(page, console_server, console_server.steward_token)
    masked = profile_from_the_page(page, console_server, console_server.no_pii_token)

    assert masked["records"] == seen["records"]
    assert console_server.person.email not in emails(masked)
    assert emails(masked) == [mask_email(e) for e in emails(seen)]
    assert all("***" in e for e in emails(masked))


def test_a_page_is_watched_for_uncaught_errors_and_requests_to_other_hosts(
    browser: Browser,
) -> None:
    # Not the `page` fixture: its teardown would fail this test for the error it provokes.
    context = browser.new_context()
    try:
        page = context.new_page()
        trouble = PageTrouble.watch(page)
        page.set_content(
            '<script src="https://cdn.example.com/app.js"></script>'
            "<script>setTimeout(() => { throw new Error('broken console') })</script>"
        )
        page.wait_for_function("() => true")  # the timer has run
        page.wait_for_timeout(100)
    finally:
        context.close()

    assert any("broken console" in error for error in trouble.uncaught)
    assert any("cdn.example.com" in request for request in trouble.failed_requests)
