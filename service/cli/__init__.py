"""The `idgraph` command: ingest files, register sources, export, evaluate, migrate, run the
demo, serve, answer privacy requests.

An entry point like the HTTP app: it translates arguments to domain calls and prints
results; the work itself happens in :mod:`identity`. One module per group of commands;
each registers its commands on the app of :mod:`service.cli.common` when imported, in
the order ``idgraph --help`` lists them.
"""

from __future__ import annotations

from service.cli import (
    destinations,
    households,
    ingest,
    matching,
    migrate,
    privacy,
    profiles,
    rules,
    segments,
    serve,
    sources,
)
from service.cli.common import app

__all__ = [
    "app",
    "destinations",
    "households",
    "ingest",
    "matching",
    "migrate",
    "privacy",
    "profiles",
    "rules",
    "segments",
    "serve",
    "sources",
]


def main() -> None:
    app()


if __name__ == "__main__":
    main()
