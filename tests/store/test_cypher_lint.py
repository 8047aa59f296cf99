"""Every statement in cypher/ passes Neo4j's own parser and semantic analysis (Cypher 5).

The check is tools/cypher-lint/lint.mjs over the npm package @neo4j-cypher/language-support
(pinned; `make test` installs it). The planted statements show the check bites.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT = REPO / "tools" / "cypher-lint"


def lint(*paths: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: the Cypher lint needs Node.js 20 or later")
    if not (LINT / "node_modules" / "@neo4j-cypher" / "language-support").is_dir():
        pytest.fail("the Cypher parser is not installed: run `make cypher-lint-install`")
    return subprocess.run(
        [node, str(LINT / "lint.mjs"), "--strict", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_every_statement_in_cypher_folder_is_clean() -> None:
    files = sorted((REPO / "cypher").glob("*.cypher"))
    assert files, "cypher/ holds no statements"
    result = lint(REPO / "cypher")
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"cypher-lint: {len(files)} files, 0 errors, 0 warnings" in result.stdout


def test_a_planted_syntax_error_fails_with_its_position(tmp_path: Path) -> None:
    (tmp_path / "fine.cypher").write_text("MATCH (r:Record {id: $id})\nRETURN r.key AS key\n")
    (tmp_path / "broken.cypher").write_text(
        "UNWIND $rows AS row\nMATCH (r:Record {id: row.id}\nRETURN r\n"
    )
    result = lint(tmp_path)
    print(result.stdout)
    assert result.returncode == 1
    assert re.search(r"broken\.cypher:3:1: error: Invalid input 'RETURN'", result.stdout)
    assert "fine.cypher" not in result.stdout
    assert "cypher-lint: 2 files, 2 errors, 0 warnings" in result.stdout


def test_semantic_errors_fail(tmp_path: Path) -> None:
    (tmp_path / "undefined.cypher").write_text("MATCH (r:Record)\nRETURN other.key AS key\n")
    (tmp_path / "plugin.cypher").write_text("RETURN apoc.coll.sum([1, 2]) AS total\n")
    result = lint(tmp_path)
    assert result.returncode == 1
    assert "undefined.cypher:2:8: error: Variable `other` not defined" in result.stdout
    assert "plugin.cypher:1:8: error: Function apoc.coll.sum is not present" in result.stdout


def test_deprecated_syntax_is_reported_and_fails(tmp_path: Path) -> None:
    (tmp_path / "old.cypher").write_text(
        "MATCH (r:Record)\nCALL { WITH r RETURN id(r) AS n }\nRETURN n\n"
    )
    result = lint(tmp_path)
    assert result.returncode == 1
    assert "warning: Function id is deprecated" in result.stdout
    assert "warning: CALL subquery without a variable scope clause is deprecated" in result.stdout


def test_statements_are_checked_as_cypher_5(tmp_path: Path) -> None:
    (tmp_path / "newer.cypher").write_text("LET x = 1\nRETURN x\n")
    (tmp_path / "pinned.cypher").write_text("CYPHER 25\nRETURN 1 AS one\n")
    result = lint(tmp_path)
    assert result.returncode == 1
    assert "newer.cypher:1:1: error: Invalid input 'LET'" in result.stdout
    assert "pinned.cypher:1:1: error: only CYPHER 5 is allowed" in result.stdout
