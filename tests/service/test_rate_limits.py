"""Per-token rate limits: past its rate a token's requests answer 429 RATE_LIMITED with
Retry-After, on REST and GraphQL alike, while other tokens go on; a GraphQL cost budget
spent answers the same way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from identity.errors import ConfigError
from service.auth import TokenRegistry, create_token, load_tokens
from service.cli import app as cli
from service.errors import ApiError
from service.ratelimit import RequestLimiter, TokenBuckets
from tests.service.conftest import Api

LOOKUP = '{ profileByIdentifier(kind: "email", value: "a@example.com") { id } }'
# One request per ten seconds: a second request within a test is always over the rate.
SLOW = 0.1


def rate_limited(response: httpx.Response, words: str) -> None:
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "RATE_LIMITED"
    assert words in error["message"]
    assert 1 <= int(response.headers["Retry-After"]) <= 10


def lookup(api: Api, role: str) -> httpx.Response:
    return api.client.post("/graphql", json={"query": LOOKUP}, headers=api.auth(role))


def test_a_token_over_the_rate_gets_429_with_retry_after_on_rest_and_graphql(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(rate_limit_per_second=SLOW)
    assert api.client.get("/v1/sources", headers=api.auth("admin")).status_code == 200
    rate_limited(
        api.client.get("/v1/sources", headers=api.auth("admin")), "IDGRAPH_RATE_LIMIT_PER_SECOND"
    )
    # GraphQL draws on the same rate as REST.
    assert lookup(api, "reader").status_code == 200
    rate_limited(lookup(api, "reader"), "0.1 requests per second")
    # Rates are per token: the ingester has not sent anything yet.
    assert api.post_records("shop", []).status_code == 200


def test_a_burst_allows_that_many_requests_at_once(make_api: Callable[..., Api]) -> None:
    api = make_api(rate_limit_per_second=SLOW, rate_limit_burst=3)
    assert [lookup(api, "reader").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_no_limit_is_the_default(api: Api) -> None:
    assert {lookup(api, "reader").status_code for _ in range(30)} == {200}


def test_a_token_of_its_own_rate_is_held_to_it(
    make_api: Callable[..., Api], tokens_file: Path
) -> None:
    api = make_api()  # no service-wide limit
    slow = create_token("slow", ["profiles:read"], tokens_file, requests_per_second=SLOW)
    headers = {"Authorization": f"Bearer {slow}"}
    post = api.client.post
    assert post("/graphql", json={"query": LOOKUP}, headers=headers).status_code == 200
    rate_limited(
        post("/graphql", json={"query": LOOKUP}, headers=headers), "the token's requests_per_second"
    )
    assert {lookup(api, "reader").status_code for _ in range(5)} == {200}


def test_a_graphql_cost_budget_spent_is_a_429_with_retry_after(
    make_api: Callable[..., Api],
) -> None:
    api = make_api(graphql_max_cost=100, graphql_cost_per_minute=150)
    query = "{ " + " ".join(f"a{i}: {LOOKUP[2:-2]}" for i in range(40)) + " }"  # cost 80
    first = api.client.post("/graphql", json={"query": query}, headers=api.auth("reader"))
    assert first.status_code == 200 and "errors" not in first.json()
    second = api.client.post("/graphql", json={"query": query}, headers=api.auth("reader"))
    assert second.status_code == 429
    [error] = second.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert int(second.headers["Retry-After"]) == error["extensions"]["retryAfter"] >= 1
    assert "150 cost units per minute" in error["message"]
    # Budgets are per token: another caller is not held back.
    assert api.graphql(query, role="pii").keys() == {"data"}


def test_buckets_refill_at_their_rate_up_to_their_capacity() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=2.0, capacity=4.0, clock=lambda: now[0])
    assert [buckets.take("t") for _ in range(4)] == [0, 0, 0, 0]
    assert buckets.take("t") == pytest.approx(0.5)  # one unit at two per second
    now[0] += 0.5
    assert buckets.take("t") == 0
    now[0] += 100  # refilled, but never past the capacity
    assert [buckets.take("t", 4), buckets.take("t")] == [0, pytest.approx(0.5)]
    assert buckets.take("u", 4) == 0  # a key of its own
    # A key's own rate and capacity, given per call.
    assert buckets.take("v", 1, rate=0.5, capacity=1) == 0
    assert buckets.take("v", 1, rate=0.5, capacity=1) == pytest.approx(2.0)


def test_a_limiter_at_rate_zero_admits_everything() -> None:
    unlimited, limited = RequestLimiter(0), RequestLimiter(1)
    for _ in range(1000):
        unlimited.admit("t")  # raises a 429 ApiError when over the rate
    limited.admit("t")
    with pytest.raises(ApiError) as over:  # the same calls at a rate of 1/s: the second
        limited.admit("t")
    assert over.value.status_code == 429 and over.value.code == "RATE_LIMITED"


def test_a_token_rate_that_is_not_a_positive_number_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tokens.toml"
    with pytest.raises(ValueError, match="requests_per_second must be a number above 0"):
        create_token("t", ["profiles:read"], path, requests_per_second=0)
    path.write_text(
        '[[tokens]]\nname = "t"\nscopes = ["profiles:read"]\nsha256 = "ab"\n'
        'requests_per_second = "fast"\n'
    )
    with pytest.raises(ConfigError, match="token 't': requests_per_second must be a number"):
        load_tokens(path)


def test_token_create_gives_a_token_its_own_rate(tmp_path: Path) -> None:
    path = tmp_path / "tokens.toml"
    result = CliRunner().invoke(
        cli,
        [
            *("token", "create", "--name", "frontend", "--scope", "profiles:read"),
            *("--requests-per-second", "25", "--tokens-file", str(path)),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "25 requests/s" in result.output
    principal = TokenRegistry(path).authenticate(result.output.strip().splitlines()[-1])
    assert principal is not None and principal.requests_per_second == 25.0
