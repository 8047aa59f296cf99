"""Every fenced shell example in README.md and docs/*.md runs, as a reader would paste it,
against a fresh demo server; or it says, in an HTML comment right above it, why it cannot
(``<!-- illustrative: needs Docker -->``).

The reader's shell is given what the docs tell them to set: ``BASE``, ``TOKEN`` (every
scope) and the scoped tokens the examples name, ``idgraph`` on the ``PATH`` (docs say
``source .venv/bin/activate``), and a working directory holding ``examples/`` and the
demo files under ``data/demo``. Each block runs in its own ``bash -e``; blocks of one page
run in order (a page registers a source, then sends it records). A block passes when it
exits 0, no request got a 5xx or no answer, and each error code its comments promise
(``# {"error":{"code":"FORBIDDEN",...}}``) is in what it printed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.benchmarks.common import serve

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(
    r"(?:<!--\s*illustrative:\s*(?P<why>[^>]*?)\s*-->\s*\n)?^```(?:sh|bash|shell)\n(?P<body>.*?)^```",
    re.S | re.M,
)
DOCUMENTED_BASE = "http://127.0.0.1:8000"
PROMISED_CODE = re.compile(r'^\s*#.*"code":\s*"(?P<code>[A-Z_]+)"', re.M)
SCOPED_TOKENS = {
    "TOKEN": "admin",
    "ADMIN_TOKEN": "admin",
    "READ_ONLY_TOKEN": "profiles:read",
    "PROFILES_ONLY_TOKEN": "profiles:read",
}
# The curl the reader runs, with each answer's status printed after it, so a 5xx or a
# refused connection is seen even where the example pipes or redirects the body.
PRELUDE = """
curl() { command curl -w '\\n<<http %{http_code}>>\\n' "$@"; }
"""


@dataclass(frozen=True)
class Example:
    page: Path
    line: int
    body: str
    illustrative: str | None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def examples(page: Path) -> list[Example]:
    text = page.read_text()
    return [
        Example(page, text[: m.start("body")].count("\n"), m["body"], m["why"])
        for m in BLOCK.finditer(text)
    ]


@dataclass
class Reader:
    """The shell environment of someone following the docs."""

    env: dict[str, str]
    cwd: Path


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reader]:
    work = tmp_path_factory.mktemp("docs")
    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDGRAPH_")}
    env |= {
        "IDGRAPH_STORE": f"sqlite:///{work}/data/idgraph.db",
        "IDGRAPH_TOKENS_FILE": str(work / "data" / "tokens.toml"),
        "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
    }
    (work / "examples").symlink_to(ROOT / "examples")
    (work / ".venv").symlink_to(bin_dir.parent)
    subprocess.run(
        ["idgraph", "demo", "--people", "200", "--events", "2000", "--out", "data/demo"],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
    )
    for name, scope in SCOPED_TOKENS.items():
        created = subprocess.run(
            ["idgraph", "token", "create", "--name", name.lower(), "--scope", scope],
            cwd=work,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        env[name] = created.stdout.split()[-1]
    process, base = serve(env, work)
    env["BASE"] = base
    try:
        yield Reader(env, work)
    finally:
        process.terminate()
        process.wait(30)


def test_every_example_runs_or_says_why_not() -> None:
    unexplained = [e.where for page in PAGES for e in examples(page) if e.illustrative == ""]
    assert not unexplained, f"an illustrative mark needs its reason: {unexplained}"
    assert sum(1 for page in PAGES for e in examples(page) if e.illustrative is None) >= 10


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_pages_examples_run(page: Path, reader: Reader) -> None:
    for example in examples(page):
        if example.illustrative is not None:
            continue
        # The reader's server is where `make run` serves; this one is on a free port.
        body = example.body.replace(DOCUMENTED_BASE, reader.env["BASE"])
        done = subprocess.run(
            ["bash", "-e", "-c", PRELUDE + body],
            cwd=reader.cwd,
            env=reader.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        shown = f"{example.where}\n{example.body}\n--- out\n{done.stdout}\n--- err\n{done.stderr}"
        assert done.returncode == 0, shown
        statuses = re.findall(r"<<http (\d{3})>>", done.stdout)
        assert not [s for s in statuses if s.startswith("5") or s == "000"], shown
        for code in PROMISED_CODE.findall(example.body):
            assert f'"code":"{code}"' in done.stdout.replace(" ", ""), shown


def test_the_mapping_docs_sources_shows_is_the_one_in_examples() -> None:
    text = (ROOT / "docs" / "sources.md").read_text()
    shown = re.search(r"`examples/mappings/webshop.toml`.*?```toml\n(.*?)```", text, re.S)
    assert shown is not None
    assert shown[1] == (ROOT / "examples" / "mappings" / "webshop.toml").read_text()
