"""GraphiQL comes from the package: its page names no other host, and the service serves
every script and style the page names."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from tests.service.conftest import Api

BROWSER = {"Accept": "text/html,application/xhtml+xml"}


class Assets(HTMLParser):
    """The URLs a page loads: script sources and linked styles and icons."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        url = found.get("src") if tag == "script" else found.get("href") if tag == "link" else None
        if url is not None:
            self.urls.append((tag, url))


def page_assets(api: Api) -> list[tuple[str, str]]:
    response = api.client.get("/graphql", headers=BROWSER)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    parser = Assets()
    parser.feed(response.text)
    return parser.urls


def test_the_graphiql_page_loads_nothing_from_another_host(api: Api) -> None:
    urls = page_assets(api)
    assert {tag for tag, _ in urls} == {"script", "link"}
    for _, url in urls:
        assert not url.startswith(("http://", "https://", "//")), url
    response = api.client.get("/graphql", headers=BROWSER)
    assert "unpkg.com" not in response.text and "jsdelivr" not in response.text


@pytest.mark.parametrize(
    ("suffix", "content_type"), [(".js", "text/javascript"), (".css", "text/css")]
)
def test_every_asset_the_page_names_is_served_with_its_content_type(
    api: Api, suffix: str, content_type: str
) -> None:
    named = [url for _, url in page_assets(api) if url.endswith(suffix)]
    assert named
    for url in named:
        response = api.client.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"].split(";")[0] == content_type, url
        assert len(response.content) > 1000, url


def test_only_the_vendored_assets_are_served(api: Api) -> None:
    assert api.client.get("/graphql/static/index.html").status_code == 404
    assert api.client.get("/graphql/static/README.md").status_code == 404
    assert api.client.get("/graphql/static/..%2F..%2Fconfig.py").status_code == 404


def test_the_page_still_runs_queries_at_its_own_url(api: Api) -> None:
    assert api.graphql("{ __typename }", role="reader") == {"data": {"__typename": "Query"}}
