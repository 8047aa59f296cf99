"""The steward console's page and files come from the package: the page names only files
the service serves, loads nothing from another host, cannot be framed, and the API tells it
who is signed in (``viewer``). Its behaviour in a browser is tests/console/."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from tests.service.conftest import Api


class Assets(HTMLParser):
    """The URLs the page loads (scripts, styles, icons) and the GraphQL address it uses."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.graphql: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        url = found.get("src") if tag == "script" else found.get("href") if tag == "link" else None
        if url is not None and not url.startswith("data:"):
            self.urls.append(url)
        if found.get("id") == "app":
            self.graphql = found.get("data-graphql")


def read_page(api: Api) -> Assets:
    response = api.client.get("/console/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    parser = Assets()
    parser.feed(response.text)
    return parser


def test_the_console_page_names_its_files_and_the_graphql_address(api: Api) -> None:
    page = read_page(api)
    assert sorted(page.urls) == ["/console/assets/console.css", "/console/assets/console.js"]
    assert page.graphql == "/graphql"


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("console.js", "text/javascript"), ("console.css", "text/css")],
)
def test_every_file_the_page_names_is_served_with_its_content_type(
    api: Api, name: str, content_type: str
) -> None:
    response = api.client.get(f"/console/assets/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == content_type
    assert len(response.content) > 1000
    # A bundle that loaded anything from a CDN would name its host.
    assert b"unpkg.com" not in response.content and b"cdn.jsdelivr" not in response.content


def test_the_licences_of_the_bundled_libraries_are_served(api: Api) -> None:
    text = api.client.get("/console/assets/THIRD-PARTY-LICENSES.txt").text
    for package in ("preact", "cytoscape", "chart.js"):
        assert package in text


def test_only_the_console_files_are_served_from_its_folder(api: Api) -> None:
    for name in ("index.html", "..%2Fgraphiql%2Findex.html", "missing.js"):
        assert api.client.get(f"/console/assets/{name}").status_code == 404, name


def test_the_page_runs_only_its_own_scripts_and_cannot_be_framed(api: Api) -> None:
    for path in ("/console/", "/console/assets/console.js"):
        policy = api.client.get(path).headers["content-security-policy"]
        assert "script-src 'self'" in policy, path
        assert "frame-ancestors 'none'" in policy, path
        assert "connect-src 'self'" in policy, path


def test_the_console_address_without_its_slash_redirects_to_the_page(api: Api) -> None:
    response = api.client.get("/console", follow_redirects=False)
    assert response.status_code == 308
    assert response.headers["location"] == "/console/"


def test_the_page_needs_no_token_but_the_api_does(api: Api) -> None:
    assert api.client.get("/console/").status_code == 200
    response = api.client.post("/graphql", json={"query": "{ viewer { name } }"})
    assert response.status_code == 401
