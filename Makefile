# Two commands for a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint typecheck unit bench clean install install-dev cypher-lint cypher-lint-install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Stamps re-run the install when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## Generate the demo data, load it into the embedded store and serve the API.
run: install
	$(BIN)/idgraph demo --serve

## Lint, type-check and run the whole test suite.
test: install-dev lint typecheck cypher-lint unit

lint: install-dev
	$(BIN)/ruff check identity service tests
	$(BIN)/ruff format --check identity service tests

typecheck: install-dev
	$(BIN)/mypy

unit: install-dev cypher-lint-install
	$(BIN)/pytest -q

# Neo4j's own Cypher parser (npm, pinned in tools/cypher-lint/package-lock.json), installed
# into a git-ignored node_modules only when missing or when the pin changes.
CYPHER_LINT := tools/cypher-lint
$(CYPHER_LINT)/node_modules/.installed: $(CYPHER_LINT)/package.json $(CYPHER_LINT)/package-lock.json
	cd $(CYPHER_LINT) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

cypher-lint-install: $(CYPHER_LINT)/node_modules/.installed

## Check every cypher/*.cypher with Neo4j's parser and semantic analysis (Cypher 5).
cypher-lint: cypher-lint-install
	node $(CYPHER_LINT)/lint.mjs --strict cypher

# The bench extra (Splink, the linkage benchmark's peer) on top of dev.
$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@ $(VENV)/.installed-dev $(VENV)/.installed

## Heavy measurements (not part of the tests); results go to docs/benchmarks.md.
bench: $(VENV)/.installed-bench
	$(BIN)/python -m tests.benchmarks.ingest_rate --runs 3
	$(BIN)/python -m tests.benchmarks.linkage --runs 3
	$(BIN)/python -m tests.benchmarks.generator_linkage --people 10000 100000 --runs 1
	$(BIN)/python -m tests.benchmarks.scale --records 1000000
	$(BIN)/python -m tests.benchmarks.journeys --people 100000 --events 2000000
	$(BIN)/python -m tests.benchmarks.attacks

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
