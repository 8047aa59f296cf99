"""A live `idgraph serve` on the demo data, started as a user starts it (`idgraph demo`,
then `idgraph serve`), with a steward's token, one without ``pii:read``, and a demo person
and review pair worth opening in the console."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.auth import PII_READ, PROFILES_READ, STEWARD_WRITE, create_token
from tests.e2e import free_port, wait_until_answering

IDGRAPH = str(Path(sys.executable).with_name("idgraph"))
DEMO_PEOPLE = 300
DEMO_SEED = 7
STEWARD_SCOPES = [PROFILES_READ, PII_READ, STEWARD_WRITE]
NO_PII_SCOPES = [PROFILES_READ, STEWARD_WRITE]
MIN_SOURCES = 3
CLUSTERS_PER_REQUEST = 25
"""Clusters looked at per GraphQL request while looking for the demo person."""


@dataclass(frozen=True, slots=True)
class RecordRef:
    source: str
    key: str


@dataclass(frozen=True, slots=True)
class DemoPerson:
    """A profile worth a steward's look: records from at least three sources, at least one
    pair of them joined by the probabilistic matcher and one by a shared identifier."""

    profile_id: str
    email: str
    """One of the profile's linking e-mails, as the store normalised it."""
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReviewPair:
    """The first pair of the review queue: no steward has decided it."""

    a: RecordRef
    b: RecordRef
    profile_a: str | None
    profile_b: str | None
    probability: float


@dataclass(frozen=True, slots=True)
class DemoServer:
    """What a console test needs of the live server."""

    base_url: str
    steward_token: str = field(repr=False)
    """Scopes profiles:read, pii:read and steward:write."""
    no_pii_token: str = field(repr=False)
    """The steward's scopes without pii:read: personal values come back masked."""
    person: DemoPerson
    review: ReviewPair
    log: Path
    console_url: str = field(default="", repr=False)
    """The console address `idgraph demo --serve` printed (signed in, on its demo person)."""
    admin_token: str = field(default="", repr=False)
    """Every scope: the audit log needs `admin`."""
    timings: dict[str, float] = field(default_factory=dict, repr=False)
    """Seconds each start-up step took: demo, serve, lookups."""

    def log_tail(self, lines: int = 80) -> str:
        return "\n".join(self.log.read_text("utf-8", "replace").splitlines()[-lines:])


def graphql(
    client: httpx.Client, token: str, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The data of a GraphQL answer; the test fails on an HTTP error or GraphQL errors."""
    response = client.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body["errors"]
    data: dict[str, Any] = body["data"]
    return data


@contextmanager
def demo_server(folder: Path) -> Iterator[DemoServer]:
    """The demo loaded into a SQLite store in ``folder`` and served on a free port by one
    `idgraph demo --serve`, as `make run` starts it, until the end of the block (SIGTERM,
    SIGKILL after 20 s)."""
    timings: dict[str, float] = {}
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDGRAPH_")}
    env |= {
        "IDGRAPH_STORE": f"sqlite:///{folder}/idgraph.db",
        "IDGRAPH_TOKENS_FILE": str(folder / "tokens.toml"),
        "IDGRAPH_HOST": "127.0.0.1",
        "IDGRAPH_PORT": str(port),
        "IDGRAPH_WORKERS": "1",
    }
    started = time.monotonic()
    log = folder / "serve.log"
    command = [
        *(IDGRAPH, "demo", "--people", str(DEMO_PEOPLE), "--seed", str(DEMO_SEED)),
        *("--out", str(folder / "demo"), "--serve"),
    ]
    with log.open("wb") as out:
        # A session of its own: a SIGKILL after the timeout reaches every process of it.
        process = subprocess.Popen(
            command, cwd=folder, env=env, stdout=out, stderr=out, start_new_session=True
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            wait_until_answering(client, "/readyz", process, log, "idgraph demo --serve")
            timings["demo and serve"] = time.monotonic() - started
            # Real tokens from the tokens file, as an operator creates them (the server
            # reads the file again when it changes), so a scope the console forgets to
            # ask for shows as it would in production.
            steward_token = create_token("steward", STEWARD_SCOPES, folder / "tokens.toml")
            no_pii_token = create_token("no_pii", NO_PII_SCOPES, folder / "tokens.toml")
            admin_token = create_token("auditor", ["admin"], folder / "tokens.toml")
            started = time.monotonic()
            person = _find_person(client, steward_token)
            review = _first_review(client, steward_token)
            timings["lookups"] = time.monotonic() - started
        yield DemoServer(
            base_url,
            steward_token,
            no_pii_token,
            person,
            review,
            log,
            console_url=_printed_console_url(log),
            admin_token=admin_token,
            timings=timings,
        )
    finally:
        process.terminate()  # uvicorn's parent stops its worker
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _printed_console_url(log: Path) -> str:
    found = re.search(r"Console:\s+(\S+)", log.read_text("utf-8", "replace"))
    if found is None:
        pytest.fail(f"idgraph demo --serve printed no console address:\n{log.read_text()}")
    return found.group(1)


_CHANGES = """query ($after: String) {
  profileChanges(first: 200, after: $after) {
    nodes { kind profileId }
    pageInfo { hasNextPage endCursor }
  }
}"""

_CLUSTER = """
  {alias}: cluster(profileId: "{id}") {{
    profileId
    records {{ source }}
    identifiers {{ kind value links }}
    links {{ type matchWeight identifier {{ kind }} }}
  }}"""


def _find_person(client: httpx.Client, token: str) -> DemoPerson:
    """The first profile in the change feed with records from three sources or more, a
    probabilistic link, a deterministic one and a linking e-mail. Which demo person that is
    can differ between runs (ids carry the time, and the feed lists a batch's new profiles
    by id), so the tests assume nothing else of them."""
    seen: set[str] = set()
    after: str | None = None
    while True:
        page = graphql(client, token, _CHANGES, {"after": after})["profileChanges"]
        ids = [n["profileId"] for n in page["nodes"] if n["kind"] == "CREATED"]
        for start in range(0, len(ids), CLUSTERS_PER_REQUEST):
            batch = ids[start : start + CLUSTERS_PER_REQUEST]
            fields = "".join(_CLUSTER.format(alias=f"c{i}", id=pid) for i, pid in enumerate(batch))
            clusters = graphql(client, token, "{" + fields + "\n}")
            for i in range(len(batch)):
                cluster = clusters[f"c{i}"]
                if cluster["profileId"] in seen:  # a merged id answers with the survivor
                    continue
                seen.add(cluster["profileId"])
                person = _worth_a_look(cluster)
                if person is not None:
                    return person
        if not page["pageInfo"]["hasNextPage"]:
            pytest.fail(
                f"no demo profile has records from {MIN_SOURCES} sources, a probabilistic "
                f"link and a linking e-mail ({len(seen)} profiles looked at)"
            )
        after = page["pageInfo"]["endCursor"]


def _worth_a_look(cluster: dict[str, Any]) -> DemoPerson | None:
    sources = sorted({r["source"] for r in cluster["records"]})
    probabilistic = any(
        link["type"] == "MATCH" and link["matchWeight"] is not None for link in cluster["links"]
    )
    deterministic = any(
        link["type"] == "MATCH" and link["identifier"] is not None for link in cluster["links"]
    )
    emails = [i["value"] for i in cluster["identifiers"] if i["kind"] == "email" and i["links"]]
    if len(sources) < MIN_SOURCES or not probabilistic or not deterministic or not emails:
        return None
    return DemoPerson(cluster["profileId"], emails[0], tuple(sources))


_REVIEW = """{
  reviewQueue(first: 1) {
    nodes { a { source key } b { source key } profileA profileB probability }
  }
}"""


def _first_review(client: httpx.Client, token: str) -> ReviewPair:
    nodes = graphql(client, token, _REVIEW)["reviewQueue"]["nodes"]
    if not nodes:
        pytest.fail("the demo's review queue is empty")
    pair = nodes[0]
    return ReviewPair(
        a=RecordRef(**pair["a"]),
        b=RecordRef(**pair["b"]),
        profile_a=pair["profileA"],
        profile_b=pair["profileB"],
        probability=pair["probability"],
    )
