"""The OpenAPI document against the running app: schemathesis generates requests from it
(valid and invalid, with and without a token) and checks every answer with all of its
checks: no 5xx, only documented statuses, content types, headers and bodies, valid data
accepted, invalid data refused, authentication not ignored, unsupported methods 405.

In process over ASGI with a bounded number of examples per operation, so it runs in
``make test``; set ``IDGRAPH_SCHEMATHESIS_EXAMPLES`` to search longer. The app is built
when this module is imported (schemathesis reads the document at collection), over a
store in a temporary folder with the shop and crm sources registered.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from identity.graph import IdentityGraph
from identity.mapping import SourceMapping
from service.app import create_app
from service.auth import create_token
from service.config import Settings
from service.errors import ErrorBody
from tests.service.conftest import CRM, SHOP

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("IDGRAPH_SCHEMATHESIS_EXAMPLES", "50"))

_work = Path(tempfile.mkdtemp(prefix="idgraph-openapi-"))
_graph = IdentityGraph.open(f"sqlite:///{_work}/openapi.db")
for _doc in (SHOP, CRM):
    _graph.ingest.register_source(SourceMapping.from_document(_doc, rules=_graph.rules))
_graph.segments.define("everyone", {"where": {"event": "*"}})
ADMIN_TOKEN = create_token("schemathesis", ["admin"], _work / "tokens.toml")


@atexit.register
def _remove_the_store() -> None:
    _graph.close()
    shutil.rmtree(_work, ignore_errors=True)


# Every setting given, so nothing in the developer's environment changes what is tested.
app = create_app(
    Settings(
        store=f"sqlite:///{_work}/openapi.db",
        rules=None,
        tokens_file=_work / "tokens.toml",
        dev_token=None,
        env="development",
        max_body_bytes=64 * 1024,
        graphql_max_depth=10,
        segment_refresh_seconds=0,
    ),
    _graph,
)
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", app, config=schemathesis.Config.from_path(ROOT / "schemathesis.toml")
)
schema.config.generation.update(max_examples=EXAMPLES)


# NDJSON bodies are left out (schemathesis has no serializer for them, and any text is
# NDJSON on the wire); tests/service/test_input_hygiene.py sends NDJSON instead.
@pytest.mark.filterwarnings("ignore:Skipped test cases with unsupported payload media types")
@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case: Any) -> None:
    # As the admin, so the operations themselves are reached; all checks run (the
    # default), among them ignored_auth, which repeats a request without the token.
    case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})


def test_every_error_status_is_documented_with_the_error_body() -> None:
    document = app.openapi()
    error_body = {"$ref": "#/components/schemas/ErrorBody"}
    without = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if not status.startswith(("4", "5")) or path == "/readyz":
                    continue  # readiness answers 503 with its own body
                if path == "/graphql" and status == "404":
                    continue  # the GraphQL router's own, for a GET it does not serve
                json_body = response.get("content", {}).get("application/json", {})
                if json_body.get("schema") != error_body:
                    without.append(f"{method.upper()} {path} {status}")
    assert without == []
    documented = document["components"]["schemas"]["ErrorDetail"]
    assert set(documented["required"]) == {"code", "message"}
    assert ErrorBody.model_validate({"error": {"code": "X", "message": "m", "extra": 1}})


def test_a_method_a_path_does_not_serve_is_405_naming_every_method_it_does() -> None:
    with TestClient(app) as client:
        response = client.delete("/graphql")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
