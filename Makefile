# Two commands for a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint typecheck unit bench clean install install-dev cypher-lint cypher-lint-install \
	neo4j neo4j-stop neo4j-server console console-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Stamps re-run the install when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# The spark extra too: the Spark engine's tests run it in local mode on the machine's Java.
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,spark]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## Generate the demo data, load it into the embedded store and serve the API.
## `make run STORE=neo4j` does the same against the development Neo4j (`make neo4j`).
STORE ?= sqlite
run: install
ifeq ($(STORE),neo4j)
	@$(MAKE) --no-print-directory neo4j
	IDGRAPH_STORE=$$(cat $(NEO4J_HOME)/uri) $(if $(NEO4J_CREDENTIALS),$(NEO4J_CREDENTIALS) )$(BIN)/idgraph demo --serve
else
	$(BIN)/idgraph demo --serve
endif

## Lint, type-check and run the whole test suite.
test: install-dev lint typecheck cypher-lint console-check unit

lint: install-dev
	$(BIN)/ruff check identity service tests
	$(BIN)/ruff format --check identity service tests

typecheck: install-dev
	$(BIN)/mypy

# The Neo4j leg of the store suite starts tools/neo4j-server itself (tests/store/conftest.py).
# The tests run in TEST_WORKERS processes (pytest-xdist; auto: one per core), each with its
# own store servers; TEST_WORKERS=0 runs them in this process.
TEST_WORKERS ?= auto
unit: install-dev cypher-lint-install neo4j-server
	$(BIN)/pytest -q -n $(TEST_WORKERS)

# Neo4j's own Cypher parser (npm, pinned in tools/cypher-lint/package-lock.json), installed
# into a git-ignored node_modules only when missing or when the pin changes.
CYPHER_LINT := tools/cypher-lint
$(CYPHER_LINT)/node_modules/.installed: $(CYPHER_LINT)/package.json $(CYPHER_LINT)/package-lock.json
	cd $(CYPHER_LINT) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

cypher-lint-install: $(CYPHER_LINT)/node_modules/.installed

# The steward console (docs/console.md): Preact, cytoscape.js and Chart.js bundled by esbuild,
# pinned in console/package-lock.json. The built files are committed in
# service/static/console/ and ship in the Python package, so `make run` needs no Node.js;
# `make console` rebuilds them after a change to console/, and `make test` fails when the
# committed files are not what the sources build.
CONSOLE := console
CONSOLE_OUT := service/static/console
$(CONSOLE)/node_modules/.installed: $(CONSOLE)/package.json $(CONSOLE)/package-lock.json
	cd $(CONSOLE) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## Rebuild the steward console's files from console/ (commit them with the sources).
console: $(CONSOLE)/node_modules/.installed
	cd $(CONSOLE) && node build.mjs
	@echo "built $(CONSOLE_OUT)/ from $(CONSOLE)/"

console-check: $(CONSOLE)/node_modules/.installed
	@rm -rf $(CONSOLE)/.check && mkdir -p $(CONSOLE)/.check
	@cd $(CONSOLE) && node build.mjs --out .check
	@if ! diff -r -q $(CONSOLE)/.check $(CONSOLE_OUT); then \
	  echo "$(CONSOLE_OUT)/ is not what console/ builds: run 'make console' and commit it"; \
	  rm -rf $(CONSOLE)/.check; exit 1; \
	fi
	@rm -rf $(CONSOLE)/.check

## Check every cypher/*.cypher with Neo4j's parser and semantic analysis (Cypher 5).
cypher-lint: cypher-lint-install
	node $(CYPHER_LINT)/lint.mjs --strict cypher

# A Neo4j 5.26 Community server for development and tests, without Docker: the embedded DBMS
# from Maven Central with Bolt on 127.0.0.1 (tools/neo4j-server). Maven resolves it into
# ~/.m2 and builds the launcher into the git-ignored target/ only when missing or when the
# pom or the launcher changes.
NEO4J_SERVER := tools/neo4j-server
NEO4J_SERVER_JAR := $(NEO4J_SERVER)/target/idgraph-neo4j-server.jar
$(NEO4J_SERVER)/target/.built: $(NEO4J_SERVER)/pom.xml $(shell find $(NEO4J_SERVER)/src -name '*.java')
	cd $(NEO4J_SERVER) && mvn -q -B -Dstyle.color=never package
	touch $@

neo4j-server: $(NEO4J_SERVER)/target/.built

# `make neo4j`: that server in the background, data in the git-ignored data/neo4j/.
# NEO4J_PORT=0 takes a free port; NEO4J_AUTH=neo4j (with NEO4J_PASSWORD in the environment)
# turns authentication on.
NEO4J_HOME ?= data/neo4j
NEO4J_PORT ?= 7687
NEO4J_AUTH ?= none
NEO4J_HEAP ?= 1g
JAVA ?= $(if $(JAVA_HOME),$(JAVA_HOME)/bin/java,java)
NEO4J_PAGECACHE ?= 256m
ifeq ($(NEO4J_AUTH),none)
NEO4J_CREDENTIALS :=
else
NEO4J_CREDENTIALS := IDGRAPH_NEO4J_USER=$(NEO4J_AUTH) IDGRAPH_NEO4J_PASSWORD="$$NEO4J_PASSWORD"
endif
# Whether the pid file names a running launcher (not a pid reused by another program).
NEO4J_RUNNING = { [ -f $(NEO4J_HOME)/pid ] \
  && ps -p "$$(cat $(NEO4J_HOME)/pid)" -o args= 2>/dev/null | grep -q idgraph-neo4j-server; }

## Start the development Neo4j in the background and print how to point idgraph at it.
neo4j: neo4j-server
	@mkdir -p $(NEO4J_HOME)
	@if $(NEO4J_RUNNING) && [ -f $(NEO4J_HOME)/uri ]; then \
	  echo "Neo4j is already running (pid $$(cat $(NEO4J_HOME)/pid))"; \
	else \
	  rm -f $(NEO4J_HOME)/uri $(NEO4J_HOME)/pid; \
	  nohup $(JAVA) -Xmx$(NEO4J_HEAP) -Xms64m -XX:+ExitOnOutOfMemoryError -jar $(NEO4J_SERVER_JAR) \
	    --data $(NEO4J_HOME) --port $(NEO4J_PORT) --auth $(NEO4J_AUTH) \
	    --pagecache $(NEO4J_PAGECACHE) --uri-file $(NEO4J_HOME)/uri \
	    --pid-file $(NEO4J_HOME)/pid > $(NEO4J_HOME)/server.log 2>&1 < /dev/null & \
	  pid=$$!; echo $$pid > $(NEO4J_HOME)/pid; \
	  echo "starting Neo4j 5.26 (pid $$pid, log $(NEO4J_HOME)/server.log) ..."; \
	  for i in $$(seq 1 360); do \
	    [ -f $(NEO4J_HOME)/uri ] && break; \
	    if ! kill -0 $$pid 2>/dev/null; then \
	      echo "Neo4j did not start:"; tail -20 $(NEO4J_HOME)/server.log; \
	      rm -f $(NEO4J_HOME)/pid; exit 1; \
	    fi; \
	    sleep 0.5; \
	  done; \
	  if [ ! -f $(NEO4J_HOME)/uri ]; then \
	    echo "Neo4j was not ready after 180 s:"; tail -20 $(NEO4J_HOME)/server.log; exit 1; \
	  fi; \
	fi
	@echo "Neo4j is ready at $$(cat $(NEO4J_HOME)/uri) (data in $(NEO4J_HOME); stop: make neo4j-stop)"
	@echo "Point idgraph at it:"
	@echo '  IDGRAPH_STORE='"$$(cat $(NEO4J_HOME)/uri)"' $(if $(NEO4J_CREDENTIALS),$(subst ",,$(NEO4J_CREDENTIALS)) ).venv/bin/idgraph demo --serve'
	@echo "  (or: make run STORE=neo4j)"

## Stop the development Neo4j (SIGTERM: a clean shutdown) and wait for it to exit.
neo4j-stop:
	@if ! $(NEO4J_RUNNING); then \
	  echo "no development Neo4j is running from $(NEO4J_HOME)"; \
	  rm -f $(NEO4J_HOME)/pid $(NEO4J_HOME)/uri; exit 0; \
	fi; \
	pid=$$(cat $(NEO4J_HOME)/pid); kill -TERM $$pid; \
	for i in $$(seq 1 120); do kill -0 $$pid 2>/dev/null || break; sleep 0.5; done; \
	if kill -0 $$pid 2>/dev/null; then echo "Neo4j (pid $$pid) did not stop in 60 s"; exit 1; fi; \
	rm -f $(NEO4J_HOME)/pid $(NEO4J_HOME)/uri; echo "Neo4j stopped"

# The bench extra (Splink, the linkage benchmark's peer) on top of dev.
$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,spark,bench]'
	touch $@ $(VENV)/.installed-dev $(VENV)/.installed

## Heavy measurements (not part of the tests); results go to docs/benchmarks.md.
bench: $(VENV)/.installed-bench neo4j-server
	$(BIN)/python -m tests.benchmarks.ingest_rate --runs 3
	$(BIN)/python -m tests.benchmarks.linkage --runs 3
	$(BIN)/python -m tests.benchmarks.generator_linkage --people 10000 100000 --runs 1
	$(BIN)/python -m tests.benchmarks.generator_linkage --generator worldgen --people 10000 100000 --runs 1
	$(BIN)/python -m tests.benchmarks.scale --records 100000 300000 1000000 --engines local spark --requests 1000
	$(BIN)/python -m tests.benchmarks.journeys --people 100000 --events 2000000
	$(BIN)/python -m tests.benchmarks.attacks
	$(BIN)/python -m tests.benchmarks.graphql_cpu --requests 1000 --runs 5 --write
	$(BIN)/python -m tests.benchmarks.stores --people 30000
	$(BIN)/python -m tests.benchmarks.serve
	$(BIN)/python -m tests.benchmarks.activation
	$(BIN)/python -m tests.benchmarks.privacy --people 3000 --events 15000
	$(BIN)/python -m tests.benchmarks.rule_changes --records 100000 --runs 3

clean: neo4j-stop
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache $(NEO4J_SERVER)/target \
	  $(CONSOLE)/node_modules test-artifacts
