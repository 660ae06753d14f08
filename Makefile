# make run   - install everything and start the all-in-one service (sandbox Zeeg without a token)
# make test  - install everything, lint, and run the whole suite against a real redis-server
# make chaos - 2,000 webhooks through killed web, workers and Redis and a faulty Zeeg: nothing
#              is lost (docs/resilience.md); the appendfsync kill -9 measurement; then the
#              fuzz suites with the chaos profile (over 10,000 generated requests)
# make soak  - about 10 minutes: a backlog grows and drains; memory, descriptors, connections
# make lock  - regenerate requirements.lock and requirements-dev.lock (hashed) from pyproject.toml
# make image-test - build the container image, run the compose project, prove it (not in make test)
# make docs  - build the docs site (MkDocs, strict: a broken link or anchor fails) into build/site
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint deps redis promtool chromium bench chaos soak clean lock image-test docs

# The locks as prerequisites (wildcard: a Makefile copied alone, as tests/unit/test_make_spec.py does).
$(STAMP): pyproject.toml $(wildcard requirements.lock requirements-dev.lock)
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { \
		echo "python3-venv missing: installing it with apt"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

deps: $(STAMP)

redis:
	@command -v redis-server >/dev/null 2>&1 || { \
		echo "redis-server missing: installing it with apt"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }

# promtool checks deploy/prometheus/alerts.yml in the tests (Debian's prometheus package).
promtool:
	@command -v promtool >/dev/null 2>&1 || { \
		echo "promtool missing: installing Debian's prometheus package with apt"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; }

# The status page's browser tests drive Debian's chromium through playwright (no browser
# download): installed with apt when the binary is missing, as redis-server is.
CHROMIUM ?= /usr/bin/chromium
chromium:
	@[ -x $(CHROMIUM) ] || { \
		echo "chromium missing: installing it with apt"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

run: deps redis
	$(BIN)/zeeg-consumer run $(if $(ZEEG_API_TOKEN),,--sandbox)

lint: deps
	$(BIN)/ruff check consumer tests
	$(BIN)/ruff format --check consumer tests
	$(BIN)/mypy consumer

test: deps redis promtool chromium lint
	$(BIN)/pytest

bench: deps redis
	@command -v wrk >/dev/null 2>&1 || { \
		echo "wrk missing: installing it with apt"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	$(BIN)/python -m tests.bench
	$(BIN)/python -m tests.bench bench_lookup

chaos: deps redis
	$(BIN)/python -m tests.bench.chaos_delivery
	$(BIN)/python -m tests.bench.chaos_fsync
	FUZZ_PROFILE=chaos $(BIN)/pytest -p no:cacheprovider --timeout=3600 \
		tests/integration/test_webhooks_fuzz.py tests/integration/test_fuzz_admin.py \
		tests/integration/test_schemathesis.py

# About 10 minutes: a backlog grows and drains; memory, descriptors and connections sampled.
soak: deps redis
	$(BIN)/python -m tests.bench.soak

# pip-tools in its own venv, so the tool is never part of what it locks. It runs on Debian's
# python3 (3.11.2) where there is one: redis needs async-timeout before 3.11.3, and pip-compile
# locks only what the interpreter it runs on needs.
LOCK_PYTHON ?= $(shell [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo $(PYTHON))
LOCKTOOL := build/locktool
PIP_COMPILE := $(LOCKTOOL)/bin/pip-compile --quiet --generate-hashes --allow-unsafe \
	--strip-extras --no-emit-index-url --no-emit-find-links --upgrade

lock:
	$(LOCK_PYTHON) -m venv $(LOCKTOOL)
	$(LOCKTOOL)/bin/pip install --quiet 'pip-tools>=7.4'
	$(PIP_COMPILE) -o requirements.lock pyproject.toml
	$(PIP_COMPILE) --extra dev -o requirements-dev.lock pyproject.toml

docs: deps
	$(BIN)/mkdocs build --strict --site-dir build/site

image-test: deps
	PIP=$(BIN)/pip bash deploy/image-test.sh

clean:
	rm -rf $(VENV) build var .pytest_cache .mypy_cache .ruff_cache
