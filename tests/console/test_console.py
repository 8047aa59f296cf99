"""The steward console in a real browser (Debian's chromium) against a live `idgraph serve`
on the demo data: a steward searches a person, opens the cluster, asks why two records
were linked, splits and undoes, works the review queue by keyboard, and a token without
pii:read sees masked values. Each test leaves the store as it found it (the server is
shared by the session), and saves screenshots in test-artifacts/console/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.console.browser import click_a_probabilistic_link, shot
from tests.console.demo_server import DemoServer, graphql

CLUSTER = """query ($id: ID!) {
  cluster(profileId: $id) { profileId size records { source key } }
}"""
PROFILE_OF = """query ($kind: String!, $value: String!) {
  profilesByIdentifier(kind: $kind, value: $value) { id }
}"""
JOURNEY = """query ($id: ID!) {
  profile(id: $id) { journey(first: 50) { nodes { type } } }
}"""
AUDIT = """query ($action: String) {
  auditLog(first: 5, action: $action) { nodes { id action reason target undoes undoneBy } }
}"""


def api(server: DemoServer, query: str, **variables: Any) -> dict[str, Any]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        return graphql(client, server.steward_token, query, variables)


def last_audited(server: DemoServer, action: str) -> dict[str, Any]:
    """The newest audit entry of ``action`` (reading the audit log needs ``admin``)."""
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        nodes = graphql(client, server.admin_token, AUDIT, {"action": action})["auditLog"]["nodes"]
    assert nodes, f"no {action} in the audit log"
    entry: dict[str, Any] = nodes[0]
    return entry


UNDO = """mutation ($id: Int!) { undo(actionId: $id, reason: "test clean-up") { __typename } }"""


@contextmanager
def undone_if_left(server: DemoServer, action: str) -> Iterator[None]:
    """The session's tests share one store: an action a failing test leaves behind is undone,
    so that the next tests see the demo as it was."""
    before = last_audited_id(server, action)
    try:
        yield
    finally:
        after = last_audited(server, action) if last_audited_id(server, action) != before else None
        if after is not None and after["undoneBy"] is None:
            api(server, UNDO, id=after["id"])


def last_audited_id(server: DemoServer, action: str) -> int | None:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        nodes = graphql(client, server.admin_token, AUDIT, {"action": action})["auditLog"]["nodes"]
    return nodes[0]["id"] if nodes else None


def sign_in(page: Page, server: DemoServer, where: str = "#/search", token: str = "") -> None:
    """Open the console at ``where`` with a token handed over in the address, as the URL
    `make run` prints does."""
    joiner = "&" if "?" in where else "?"
    page.goto(f"{server.base_url}/console/{where}{joiner}token={token or server.steward_token}")
    expect(page.locator("header.top nav")).to_be_visible()


def open_profile(page: Page, server: DemoServer, profile_id: str, token: str = "") -> None:
    sign_in(page, server, f"#/profile/{profile_id}", token)
    expect(page.get_by_test_id("profile-id")).to_have_text(profile_id)
    page.locator("#cluster-graph canvas").first.wait_for()


def cluster_size(server: DemoServer, profile_id: str) -> int:
    size: int = api(server, CLUSTER, id=profile_id)["cluster"]["size"]
    return size


def test_the_address_make_run_prints_opens_its_demo_person_signed_in(
    page: Page, console_server: DemoServer
) -> None:
    url = console_server.console_url
    assert url.startswith(f"{console_server.base_url}/console/#/profile/p_")
    profile_id = url.split("#/profile/", 1)[1].split("?", 1)[0]
    page.goto(url)
    expect(page.get_by_test_id("profile-id")).to_have_text(profile_id)
    expect(page.locator("header.top .viewer")).to_have_text("demo")
    page.locator("#cluster-graph canvas").first.wait_for()
    assert "token" not in page.url


def test_the_token_in_the_address_is_taken_out_of_it(
    page: Page, console_server: DemoServer
) -> None:
    sign_in(page, console_server)
    assert "token" not in page.url
    # The tab keeps it: a reload stays signed in.
    page.reload()
    expect(page.locator("header.top .viewer")).to_have_text("steward")


def test_a_token_the_api_refuses_is_said_so_at_sign_in(
    page: Page, console_server: DemoServer
) -> None:
    page.goto(f"{console_server.base_url}/console/")
    page.locator("#token").fill("idg_not-a-real-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not accepted")
    page.locator("#token").fill(console_server.steward_token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("header.top .viewer")).to_have_text("steward")


def test_a_steward_finds_the_demo_person_by_email_and_opens_the_profile(
    page: Page, console_server: DemoServer
) -> None:
    person = console_server.person
    sign_in(page, console_server)
    page.locator("input[name=q]").fill(person.email)
    page.locator("input[name=q]").press("Enter")
    results = page.get_by_test_id("search-results")
    expect(results.locator("tr.result")).to_have_count(1)
    shot(page, "search")
    results.get_by_role("link", name=person.profile_id).click()
    expect(page.get_by_test_id("profile-id")).to_have_text(person.profile_id)
    assert page.url.endswith(f"#/profile/{person.profile_id}")


def test_a_search_by_name_lists_candidates_with_the_fields_compared(
    page: Page, console_server: DemoServer
) -> None:
    name = page_name_of(page, console_server)
    sign_in(page, console_server, "#/search?q=" + name.replace(" ", "%20"))
    rows = page.get_by_test_id("search-results").locator("tr.result")
    expect(rows.first).to_be_visible()
    expect(rows.first).to_contain_text("first_name")
    assert console_server.person.profile_id in page.get_by_test_id("search-results").inner_text()


def page_name_of(page: Page, server: DemoServer) -> str:
    open_profile(page, server, server.person.profile_id)
    return page.locator("main.profile h1").inner_text()


def test_the_profile_page_draws_the_cluster_with_records_identifiers_and_styled_links(
    page: Page, console_server: DemoServer
) -> None:
    person = console_server.person
    open_profile(page, console_server, person.profile_id)
    drawn = page.evaluate(
        """() => {
          const cy = window.idgraphConsole.cy;
          const count = (selector) => cy.elements(selector).length;
          return {records: count("node.record"), identifiers: count("node.identifier"),
                  deterministic: count("edge.deterministic"),
                  probabilistic: count("edge.probabilistic"),
                  weights: cy.edges("edge.probabilistic").map((e) => e.data("label"))};
        }"""
    )
    assert drawn["records"] == cluster_size(console_server, person.profile_id)
    assert drawn["identifiers"] >= 1
    assert drawn["deterministic"] >= 1 and drawn["probabilistic"] >= 1
    # Probabilistic links are labelled with their match weight.
    assert all(re.fullmatch(r"-?\d+\.\d", label) for label in drawn["weights"])
    # The golden record names the record each value came from.
    expect(page.get_by_test_id("golden-record")).to_contain_text("first_name")
    sources = page.get_by_test_id("records").locator("section.source h3").all_inner_texts()
    assert {s.split(" ")[0] for s in sources} == set(person.sources)
    # The journey's first page, as the API has it (some demo people have no events).
    events = api(console_server, JOURNEY, id=person.profile_id)["profile"]["journey"]["nodes"]
    if events:
        expect(page.get_by_test_id("journey").locator("li")).to_have_count(len(events))
        expect(page.get_by_test_id("journey").locator("li").first).to_contain_text(
            events[0]["type"]
        )
    else:
        expect(page.locator("main.profile")).to_contain_text("No events.")
    shot(page, "profile")


def test_clicking_a_link_in_the_graph_shows_its_per_field_weights(
    page: Page, console_server: DemoServer
) -> None:
    open_profile(page, console_server, console_server.person.profile_id)
    click_a_probabilistic_link(page)
    explanation = page.get_by_test_id("link-explanation")
    expect(explanation).to_contain_text("probabilistic match")
    expect(explanation).to_contain_text("Match weight")
    rows = explanation.get_by_test_id("contributions").locator("tbody tr")
    assert rows.count() >= 2
    assert "first_name" in rows.all_inner_texts()[0] + " ".join(rows.all_inner_texts())
    shot(page, "explanation")


def test_split_a_record_off_and_undo_it(page: Page, console_server: DemoServer) -> None:
    with undone_if_left(console_server, "split_profile"):
        person = console_server.person
        size = cluster_size(console_server, person.profile_id)
        open_profile(page, console_server, person.profile_id)
        records = page.get_by_test_id("records")
        box = records.locator("input[type=checkbox]").last
        moved = box.get_attribute("data-record")
        assert moved is not None
        box.check()

        page.get_by_role("button", name="Split selected…").click()
        dialog = page.locator("dialog[open]")
        expect(dialog).to_contain_text(moved)
        expect(dialog).to_contain_text(f"Stays ({size - 1})")
        confirm = dialog.get_by_role("button", name="Split")
        expect(confirm).to_be_disabled()  # a reason first
        dialog.locator("textarea[name=reason]").fill("two people share this account (browser test)")
        shot(page, "split-confirm")
        confirm.click()

        done = page.get_by_test_id("action-done")
        expect(done).to_contain_text("Done: action")
        assert cluster_size(console_server, person.profile_id) == size - 1
        expect(page.locator("main.profile .page-head")).to_contain_text(f"{size - 1} records")
        split = last_audited(console_server, "split_profile")
        assert split["reason"] == "two people share this account (browser test)"
        assert f"#{split['id']}" in done.inner_text()

        done.get_by_role("button", name="Undo").click()
        dialog = page.locator("dialog[open]")
        dialog.locator("textarea[name=reason]").fill("split by mistake (browser test)")
        dialog.get_by_role("button", name="Undo").click()
        expect(page.get_by_test_id("action-done")).to_contain_text("Undone")
        assert cluster_size(console_server, person.profile_id) == size
        undo = last_audited(console_server, "undo")
        assert undo["undoes"] == split["id"] and undo["reason"] == "split by mistake (browser test)"

        # Both are on the audit log page, which the API shows only to admin (a steward is not
        # offered it), the split marked undone.
        expect(page.locator("header.top nav")).not_to_contain_text("Audit log")
        sign_in(page, console_server, "#/audit", console_server.admin_token)
        expect(page.locator("header.top nav")).to_contain_text("Audit log")
        audit = page.get_by_test_id("audit")
        expect(audit).to_contain_text("split by mistake (browser test)")
        expect(audit).to_contain_text(f"undone by #{undo['id']}")
        shot(page, "audit")


def probability_shown(page: Page) -> float:
    head = page.get_by_test_id("review-pair").locator(".pair-head strong").inner_text()
    return float(head.removeprefix("Probability "))


def test_the_review_queue_is_worked_with_one_key(page: Page, console_server: DemoServer) -> None:
    with undone_if_left(console_server, "accept_match"):
        sign_in(page, console_server, "#/review")
        position = page.get_by_test_id("review-position")
        expect(position).to_contain_text("Pair 1 of")
        total = int(position.inner_text().rsplit(" ", 1)[1])
        pair = page.get_by_test_id("review-pair")
        first = pair.locator("h3 code").all_inner_texts()
        shot(page, "review")

        # Next and previous by keyboard, the most probable pair first.
        first_probability = probability_shown(page)
        page.keyboard.press("j")
        expect(position).to_contain_text("Pair 2 of")
        assert probability_shown(page) <= first_probability
        page.keyboard.press("k")
        expect(position).to_contain_text("Pair 1 of")
        expect(pair.locator("h3 code").first).to_have_text(first[0])
        page.keyboard.press("j")
        # At once, as a steward's fingers do: "a" acts on the pair on screen, never on the
        # one shown before the key that moved (the listener once lagged a render behind).
        page.keyboard.press("k")

        page.keyboard.press("a")
        expect(page.get_by_test_id("action-done")).to_contain_text("Done: action")
        expect(position).to_have_text(f"Pair 1 of {total - 1}")
        a_key = first[0].split("/", 1)[1]
        b_key = first[1].split("/", 1)[1]
        accepted = last_audited(console_server, "accept_match")
        assert accepted["reason"] == "review queue"
        assert a_key in accepted["target"] and b_key in accepted["target"]

        # Undone from the same page: the pair waits again.
        page.get_by_test_id("action-done").get_by_role("button", name="Undo").click()
        dialog = page.locator("dialog[open]")
        dialog.locator("textarea[name=reason]").fill("pressed a by mistake (browser test)")
        dialog.get_by_role("button", name="Undo").click()
        expect(position).to_have_text(f"Pair 1 of {total}")


def test_without_pii_read_the_console_shows_masked_values(
    page: Page, console_server: DemoServer
) -> None:
    person = console_server.person
    open_profile(page, console_server, person.profile_id, token=console_server.no_pii_token)
    expect(page.get_by_test_id("masked-banner")).to_be_visible()
    text = page.locator("main").inner_text()
    assert person.email not in text
    local = person.email.split("@")[0]
    assert f"{local[0]}***@" in text
    shot(page, "masked-profile")
    # Search shows masked values too, and finds the person by the real e-mail.
    sign_in(page, console_server, f"#/search?q={person.email}", console_server.no_pii_token)
    expect(page.get_by_test_id("search-results").locator("tr.result")).to_have_count(1)
    assert person.email not in page.locator("main").inner_text()


def test_the_quality_page_draws_its_charts(page: Page, console_server: DemoServer) -> None:
    sign_in(page, console_server, "#/quality")
    for chart in (
        "chart-weights",
        "chart-sizes",
        "chart-matchers",
        "chart-queue",
        "chart-warnings",
    ):
        canvas = page.get_by_test_id(chart).locator("canvas")
        expect(canvas).to_be_visible()
        assert canvas.bounding_box()["height"] > 100  # type: ignore[index]
    quality = api(console_server, "{ quality { profiles } }")["quality"]
    expect(page.get_by_test_id("profiles-count")).to_have_text(f"{quality['profiles']:,}")
    expect(page.get_by_test_id("warnings")).to_contain_text("mobile")
    shot(page, "quality")


def test_suspicious_clusters_list_their_signals_and_open_the_profile(
    page: Page, console_server: DemoServer
) -> None:
    sign_in(page, console_server, "#/suspicious")
    table = page.get_by_test_id("suspicious")
    first = table.locator("tbody tr").first
    expect(first).to_be_visible()
    shot(page, "suspicious")
    first.locator("a").click()
    expect(page.get_by_test_id("suspicion")).to_be_visible()


def other_profile(server: DemoServer) -> str:
    """A profile other than the demo person's."""
    nodes = api(server, "{ suspiciousClusters(first: 5) { nodes { profileId } } }")
    ids = [n["profileId"] for n in nodes["suspiciousClusters"]["nodes"]]
    return next(i for i in ids if i != server.person.profile_id)


def records_of(server: DemoServer, profile_id: str) -> frozenset[tuple[str, str]]:
    records = api(server, CLUSTER, id=profile_id)["cluster"]["records"]
    return frozenset((r["source"], r["key"]) for r in records)


def test_merge_two_profiles_after_seeing_the_other_and_undo(
    page: Page, console_server: DemoServer
) -> None:
    with undone_if_left(console_server, "merge_profiles"):
        person = console_server.person
        other = other_profile(console_server)
        before = {records_of(console_server, person.profile_id), records_of(console_server, other)}
        open_profile(page, console_server, person.profile_id)
        page.locator("input[name=merge-with]").fill(other)
        page.get_by_role("button", name="Merge…").click()
        dialog = page.locator("dialog[open]")
        # What will change, before anything does: the other profile by name and size.
        other_size = len(records_of(console_server, other))
        expect(dialog).to_contain_text(f"{other_size} records")
        dialog.locator("textarea[name=reason]").fill("same person, two shops (browser test)")
        dialog.get_by_role("button", name="Merge").click()
        expect(page.get_by_test_id("action-done")).to_contain_text("Done: action")
        assert records_of(console_server, other) == frozenset().union(*before)
        page.get_by_test_id("action-done").get_by_role("button", name="Undo").click()
        dialog = page.locator("dialog[open]")
        dialog.locator("textarea[name=reason]").fill("not the same after all (browser test)")
        dialog.get_by_role("button", name="Undo").click()
        done = page.get_by_test_id("action-done")
        expect(done).to_contain_text("Undone")
        # The partition is the one before the merge. The merged-away id stays retired
        # (docs/stewardship.md): the part that leaves again has a new id, which the bar
        # names with the survivor's.
        now = [link.inner_text() for link in done.locator("a").all()]
        assert len(now) == 2
        assert {records_of(console_server, profile_id) for profile_id in now} == before


def test_separate_two_records_and_a_cancelled_dialog_changes_nothing(
    page: Page, console_server: DemoServer
) -> None:
    with undone_if_left(console_server, "separate_records"):
        person = console_server.person
        before = last_audited_id(console_server, "separate_records")
        open_profile(page, console_server, person.profile_id)
        boxes = page.get_by_test_id("records").locator("input[type=checkbox]")
        boxes.nth(0).check()
        boxes.nth(1).check()
        separate = page.get_by_role("button", name="Separate two records…")
        separate.click()
        page.locator("dialog[open] textarea[name=reason]").fill("changed my mind")
        page.keyboard.press("Escape")
        expect(page.locator("dialog[open]")).to_have_count(0)
        assert last_audited_id(console_server, "separate_records") == before

        separate.click()
        dialog = page.locator("dialog[open]")
        dialog.locator("textarea[name=reason]").fill("a parent and a child (browser test)")
        dialog.get_by_role("button", name="Separate").click()
        expect(page.get_by_test_id("action-done")).to_contain_text("Done: action")
        entry = last_audited(console_server, "separate_records")
        assert entry["id"] != before and entry["reason"] == "a parent and a child (browser test)"
        page.get_by_test_id("action-done").get_by_role("button", name="Undo").click()
        dialog = page.locator("dialog[open]")
        dialog.locator("textarea[name=reason]").fill("wrong records (browser test)")
        dialog.get_by_role("button", name="Undo").click()
        expect(page.get_by_test_id("action-done")).to_contain_text("Undone")


def test_a_refused_action_says_why_in_its_dialog_and_changes_nothing(
    page: Page, console_server: DemoServer
) -> None:
    person = console_server.person
    before = last_audited_id(console_server, "merge_profiles")
    open_profile(page, console_server, person.profile_id)
    page.locator("input[name=merge-with]").fill("p_01ZZZZZZZZZZZZZZZZZZZZZZZZ")
    page.get_by_role("button", name="Merge…").click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_contain_text("No profile p_01ZZZZZZZZZZZZZZZZZZZZZZZZ")
    dialog.locator("textarea[name=reason]").fill("trying a wrong id (browser test)")
    dialog.get_by_role("button", name="Merge").click()
    expect(dialog.get_by_role("alert")).to_contain_text("UNKNOWN_PROFILE")
    assert last_audited_id(console_server, "merge_profiles") == before
