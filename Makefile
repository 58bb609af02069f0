# stackwatch: generate → lint → test. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test install tools system-packages generate check-generated lint unit e2e bench mutation clean

$(BIN)/stackwatch: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/stackwatch

demo: install
	$(BIN)/stackwatch demo

# Debian packages the tests use (docker-compose for `config -q`, blackbox_exporter).
system-packages:
	bash tools/install-system-packages.sh

# Pinned real binaries: the collector (Collector Builder), Prometheus and promtool.
tools: system-packages
	bash tools/install-tools.sh
	$(BIN)/python tools/alerting_check.py  # Go tools of the alerting tests (Grafana files checker, promql-eval)

# Every generated file, from its single source of truth (one line per generator).
generate: install
	$(BIN)/stackwatch catalogue --output docs/metrics.md
	$(BIN)/python -m grafana.generate
	$(BIN)/python -m alerting.generate

# Fails when a committed generated file differs from what its source generates
# (the list of generated paths lives in tools/check-generated.sh).
check-generated: install
	bash tools/check-generated.sh

lint: install
	$(BIN)/ruff check exporters tests benchmarks tools grafana alerting

unit: install
	$(BIN)/python -m pytest -m "not e2e"

e2e: install tools
	$(BIN)/python -m pytest -m e2e

# Test modules run in parallel, each whole on one worker (--dist loadfile: a module's stack
# fixtures and its tests' order stay together). Most of the time is spent waiting on real
# binaries' intervals, not CPU, so 4 workers fit 2 cores. PYTEST_WORKERS=0 runs serially. The longest
# modules start first (tests/conftest.py LONGEST_FIRST), in that order.
PYTEST_WORKERS ?= 4
PYTEST_PARALLEL = $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder)

test: install tools check-generated lint
	$(BIN)/python -m pytest $(PYTEST_PARALLEL)

bench: install
	$(BIN)/python benchmarks/collect.py

# Mutation testing of the core, each module against its own fast unit tests, one process
# (tools/mutation.py; figures in docs/testing.md). MUTATION_MODULES="ratelimit drains" runs some.
MUTATION_MODULES ?=
mutation: install
	$(BIN)/python tools/mutation.py $(MUTATION_MODULES)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
