"""Running the service: API tokens, `idgraph serve` and the demo `make run` starts."""

from __future__ import annotations

import itertools
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from identity.errors import (
    IdgraphError,
)
from identity.graph import IdentityGraph
from identity.mapping import load_mapping
from service.cli.common import (
    RulesOption,
    StoreOption,
    _fail,
    app,
    cli_actor,
    console,
    out,
    token_app,
)
from service.cli.ingest import Ingesting, Reading, ingest_event_files, ingest_files


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option("--name", help="Who uses the token (shown in audit)")],
    scope: Annotated[
        list[str], typer.Option("--scope", help="Scope to grant (repeatable); 'admin' for all")
    ],
    tokens_file: Annotated[Path | None, typer.Option("--tokens-file")] = None,
    requests_per_second: Annotated[
        float | None,
        typer.Option(
            "--requests-per-second",
            help="The token's own rate limit (default: IDGRAPH_RATE_LIMIT_PER_SECOND)",
        ),
    ] = None,
) -> None:
    """Create an API token; prints it once (only its hash is stored)."""
    from service.auth import create_token
    from service.config import Settings

    path = tokens_file or Settings().tokens_file
    try:
        token = create_token(name, scope, path, requests_per_second)
    except ValueError as error:
        raise _fail(error) from error
    rate = f", {requests_per_second:g} requests/s" if requests_per_second is not None else ""
    console.print(f"created token '{name}' with scopes {', '.join(scope)}{rate} in {path}")
    out.print(token, soft_wrap=True, highlight=False)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: IDGRAPH_HOST or 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="Default: IDGRAPH_PORT or 8000")] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="API processes serving the one store (default: IDGRAPH_WORKERS, else the "
            "number of cores)",
        ),
    ] = None,
) -> None:
    """Serve the HTTP and GraphQL API, in one process or several sharing the store."""
    import uvicorn
    from pydantic import ValidationError

    from service.app import create_app
    from service.config import Settings

    try:
        settings = Settings()
    except ValidationError as error:
        raise _fail(_settings_problem(error)) from None
    count = workers or settings.workers
    if count > 1:
        # Migrate the store once, before the workers open it, and fail here rather than
        # in every worker when it cannot be opened.
        try:
            settings.open_store().close()
        except IdgraphError as error:
            raise _fail(error) from error
    try:
        # The settings' files (a persisted query manifest) are checked here, once, with an
        # error a person reads, rather than as a traceback in each worker.
        create_app(settings)
    except IdgraphError as error:
        raise _fail(error) from error
    bind_host, bind_port = host or settings.host, port or settings.port
    plural = "process" if count == 1 else "processes"
    console.print(
        f"serving http://{bind_host}:{bind_port} with {count} worker {plural} "
        f"({settings.store.split(':', 1)[0]} store)",
        highlight=False,
        soft_wrap=True,
    )
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=bind_host,
        port=bind_port,
        workers=count,
        log_level="info",
        **_worker_healthcheck(),
    )


WORKER_HEALTHCHECK_SECONDS = 30
"""How long uvicorn waits for a worker to answer its health check before it kills and
replaces it: its default, 5 s, is less than a worker takes to start on a busy machine."""


def _worker_healthcheck() -> dict[str, Any]:
    import inspect

    import uvicorn

    # uvicorn 0.30 to 0.3x check workers with a fixed timeout and take no such setting.
    if "timeout_worker_healthcheck" in inspect.signature(uvicorn.Config).parameters:
        return {"timeout_worker_healthcheck": WORKER_HEALTHCHECK_SECONDS}
    return {}


def _settings_problem(error: Exception) -> ValueError:
    """A settings validation error in one line per setting, named as its variable."""
    from pydantic import ValidationError

    assert isinstance(error, ValidationError)
    problems = [
        f"IDGRAPH_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
        if e["loc"]
        else e["msg"]
        for e in error.errors()
    ]
    return ValueError("invalid settings: " + "; ".join(problems))


@app.command()
def demo(
    people: Annotated[int, typer.Option(help="How many people to generate")] = 3000,
    events: Annotated[
        int | None,
        typer.Option(help="How many events (default: 10 per person; 0 for none)"),
    ] = None,
    seed: Annotated[int, typer.Option(help="Generator seed")] = 7,
    out_dir: Annotated[Path, typer.Option("--out", help="Where to write the demo files")] = Path(
        "data/demo"
    ),
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API after loading")
    ] = False,
    store: StoreOption = None,
    rules: RulesOption = None,
) -> None:
    """Generate the demo data (with truth) and events, load them, define the demo
    segments, and optionally serve it all."""
    from datetime import UTC, datetime

    from identity.demo.generator import generate
    from identity.evaluation import load_assignment, pairwise
    from service.cli.matching import _link_counts
    from service.config import Settings

    settings = Settings()
    store_url = store or settings.store
    started = time.perf_counter()
    events = people * 10 if events is None else events
    console.print(
        f"generating {people:,} demo people and {events:,} events (seed {seed}) into {out_dir} ..."
    )
    # Events end now, so "in the last 30 days" finds the demo's recent behaviour.
    files = generate(out_dir, people=people, seed=seed, events=events, until=datetime.now(UTC))
    try:
        graph = settings.open_graph(store_url, rules)
        try:
            for mapping_path in sorted(files.mappings_dir.glob("*.toml")):
                graph.ingest.register_source(load_mapping(mapping_path, rules=graph.rules))
            for source, path in sorted(files.files.items()):
                mapping = graph.ingest.source(source)
                ingest_files(graph, [path], Reading.of(mapping), Ingesting(source=source))
            truth = load_assignment(files.truth)
            deterministic = pairwise(_predicted(graph), truth)
            console.print(
                f"deterministic matching: pairwise precision {deterministic.precision:.4f}, "
                f"recall {deterministic.recall:.4f}"
            )
            if graph.matcher is not None:
                matcher = graph.matcher
                with console.status("training the match model and linking ..."):
                    matcher.train()
                    linked = matcher.link_all()
                # Audited as `idgraph link` is: the quality page's review-queue history.
                graph.quality.record_link(_link_counts(linked), cli_actor(), "local")
                console.print(
                    f"probabilistic matching: {linked.links:,} links, "
                    f"{linked.reviews:,} pairs for review"
                )
            if files.events_file is not None:
                ingest_event_files(graph, [files.events_file])
            _define_demo_segments(graph)
            counts = graph.store.counts()
            scores = pairwise(_predicted(graph), truth)
            person = _demo_person(graph)
        finally:
            graph.close()
    except IdgraphError as error:
        raise _fail(error) from error
    console.print(
        f"loaded {counts.records:,} records into {counts.profiles:,} profiles "
        f"({counts.identifiers:,} identifiers) in {time.perf_counter() - started:.1f}s; "
        f"against the generator's truth: pairwise precision {scores.precision:.4f}, "
        f"recall {scores.recall:.4f}"
    )
    if serve_after:
        token = os.environ.get("IDGRAPH_DEV_TOKEN")
        if not token:
            from service.auth import create_token

            token = create_token("demo", ["admin"], settings.tokens_file)
        _print_demo_help(settings.host, settings.port, token, person)
        serve(None, None)


def _define_demo_segments(graph: IdentityGraph) -> None:
    from importlib import resources

    folder = resources.files("identity.demo") / "segments"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            name = entry.name.removesuffix(".json")
            document = json.loads(entry.read_text("utf-8"))
            segment = graph.segments.define(name, document, actor=cli_actor())
            console.print(f"segment [bold]{name}[/]: {segment.size:,} members")


def _predicted(graph: IdentityGraph) -> dict[tuple[str, str], str | None]:
    return {(ref.source, ref.key): pid for ref, pid in graph.store.records.scan_profiles()}


def _demo_person(graph: IdentityGraph) -> tuple[str, str] | None:
    """A demo person whose profile has records from the most sources: an e-mail of theirs
    and the profile's id."""
    best: tuple[int, str, str] | None = None
    ids = list(itertools.islice(graph.store.profiles.scan_ids(), 2000))
    for start in range(0, len(ids), 250):
        for profile in graph.profiles.get_many(ids[start : start + 250]):
            if profile is None:
                continue
            sources = {r.record.source for r in profile.records}
            emails = [i for i in profile.identifiers if i.kind == "email" and i.links]
            if emails and (best is None or len(sources) > best[0]):
                best = (len(sources), emails[0].value, profile.id)
        if best is not None and best[0] >= 4:
            break
    return (best[1], best[2]) if best else None


def _print_demo_help(host: str, port: int, token: str, person: tuple[str, str] | None) -> None:
    base = f"http://{host}:{port}"
    email = person[0] if person else None
    # The token rides in the fragment, which the browser never sends: the console keeps it
    # for the tab and takes it out of the address bar.
    page = f"#/profile/{person[1]}" if person else "#/search"
    console_url = f"{base}/console/{page}?token={token}"
    query = (
        '{ profileByIdentifier(kind: "email", value: '
        + json.dumps(email or "someone@example.com")
        + ") { id records { source key } attributes { name value provenance { source } }"
        " traits { orders monetary lastSeen } segments"
        " journey(first: 5) { nodes { type timestamp channel } } } }"
    )
    body = shlex.quote(json.dumps({"query": query}))
    console.print(
        "\n[bold green]idgraph demo is ready[/]\n"
        f"  Console:   {console_url}\n"
        f"             (the steward console, signed in, on the demo person"
        f"{' ' + email if email else ''})\n"
        f"  GraphiQL:  {base}/graphql  (add the header "
        f'{{"Authorization": "Bearer {token}"}})\n'
        f"  API token: {token}\n"
        f"  Try:\n    curl -s {base}/graphql -H 'Authorization: Bearer {token}' "
        f"-H 'Content-Type: application/json' \\\n      -d {body}\n"
        f"  A segment:\n    curl -s '{base}/v1/segments/lapsed-readers/members?format=csv"
        f"&fields=profile_id,email,first_name,traits.last_seen' "
        f"-H 'Authorization: Bearer {token}'\n",
        highlight=False,
        soft_wrap=True,
    )
    sys.stderr.flush()
