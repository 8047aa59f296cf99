"""Tokens and scopes: 401 without a valid token, 403 without the scope, reload, dev token."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from identity.errors import ConfigError
from identity.graph import IdentityGraph
from service.app import create_app
from service.auth import create_token
from service.config import Settings
from tests.service.conftest import ROLES, Api

PROFILE_QUERY = '{ profile(id: "p-unknown") { id } }'


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer idg_wrong"}])
def test_a_request_without_a_valid_token_is_401_with_a_bearer_challenge(
    api: Api, headers: dict[str, str]
) -> None:
    for response in (
        api.client.get("/v1/sources", headers=headers),
        api.client.post("/v1/records?source=shop", json=[], headers=headers),
        api.client.post("/graphql", json={"query": PROFILE_QUERY}, headers=headers),
    ):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "UNAUTHENTICATED"


def test_a_token_without_the_scope_is_403_naming_the_scope(api: Api) -> None:
    response = api.post_records("shop", [{"id": "a"}], role="reader")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "FORBIDDEN"
    assert "ingest:write" in error["message"]

    response = api.client.put("/v1/sources/shop", json={}, headers=api.auth("ingester"))
    assert response.status_code == 403
    assert "'admin'" in response.json()["error"]["message"]


def test_a_graphql_field_checks_its_scope(api: Api) -> None:
    result = api.graphql(PROFILE_QUERY, role="ingester")
    assert result["data"] == {"profile": None}
    [error] = result["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "profiles:read" in error["message"]


def test_admin_has_every_scope(api: Api) -> None:
    assert api.post_records("shop", [{"id": "a"}], role="admin").status_code == 200
    assert api.client.get("/v1/sources", headers=api.auth("admin")).status_code == 200
    assert api.graphql(PROFILE_QUERY, role="admin") == {"data": {"profile": None}}


def test_the_dev_token_has_every_scope(make_api: Callable[..., Api]) -> None:
    api = make_api(dev_token="dev-secret-123")
    headers = {"Authorization": "Bearer dev-secret-123"}
    assert api.client.get("/v1/sources", headers=headers).status_code == 200
    response = api.client.post("/v1/records?source=shop", json=[{"id": "a"}], headers=headers)
    assert response.status_code == 200


def test_a_token_created_while_running_is_accepted_without_restart(
    api: Api, tokens_file: Path
) -> None:
    late = create_token("late", ["profiles:read"], tokens_file)
    response = api.client.get("/v1/sources", headers={"Authorization": f"Bearer {late}"})
    assert response.status_code == 200
    # The earlier tokens are kept.
    assert api.client.get("/v1/sources", headers=api.auth("reader")).status_code == 200


def test_the_tokens_file_holds_hashes_only(tokens: dict[str, str], tokens_file: Path) -> None:
    text = tokens_file.read_text()
    assert all(token.startswith("idg_") and token not in text for token in tokens.values())
    entries = tomllib.loads(text)["tokens"]
    assert [(e["name"], e["scopes"]) for e in entries] == [
        (role, sorted(scopes)) for role, scopes in ROLES.items()
    ]
    assert all(len(e["sha256"]) == 64 and e["created"].tzinfo for e in entries)


def test_an_unknown_scope_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown scope 'profiles:write'"):
        create_token("x", ["profiles:read", "profiles:write"], tmp_path / "t.toml")
    assert not (tmp_path / "t.toml").exists()


def test_production_refuses_a_dev_token() -> None:
    with pytest.raises(ValidationError, match="IDGRAPH_DEV_TOKEN") as caught:
        Settings(env="production", dev_token="dev-secret-123")
    assert "dev-secret-123" not in str(caught.value)


def test_production_refuses_to_start_without_tokens(graph: IdentityGraph, tmp_path: Path) -> None:
    settings = Settings(env="production", tokens_file=tmp_path / "none.toml")
    with pytest.raises(ConfigError, match="no API tokens"), TestClient(create_app(settings, graph)):
        pass


def test_production_starts_with_tokens(make_api: Callable[..., Api]) -> None:
    api = make_api(env="production")
    assert api.client.get("/v1/sources", headers=api.auth("reader")).status_code == 200


def test_the_environment_configures_the_service(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("IDGRAPH_ENV", "production")
    monkeypatch.setenv("IDGRAPH_TOKENS_FILE", str(tmp_path / "t.toml"))
    monkeypatch.setenv("IDGRAPH_MAX_BODY_BYTES", "100")
    settings = Settings()
    assert (settings.env, settings.tokens_file, settings.max_body_bytes) == (
        "production",
        tmp_path / "t.toml",
        100,
    )
