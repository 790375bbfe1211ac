# physml: the two set-up commands are `make demo` and `make test` (see README.md).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# Real data for the demo and tests: ../shared/data beside the checkout, unless PHYSML_DATA_DIR is set.
PHYSML_DATA_DIR ?= $(abspath ../shared/data)
export PHYSML_DATA_DIR
PORT ?= 5000
TEAM_PORT ?= 5050
# Commands that tests and `mlflow run` start (physml, mlflow) come from the venv.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install lock browser demo team-demo team-down test test-fast lint format bench server-start server-stop clean

# Installs pin what the tests run on: requirements.lock (physml's `cpu`, `team`, `bench` and `test` extras, with
# hashes), then physml itself without dependencies. `make lock` after changing pyproject.toml's dependencies.
$(BIN)/.installed: pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

install: $(BIN)/.installed

## lock: resolve .[cpu,team,bench,test] for CPython 3.11 on x86_64 Linux (manylinux_2_28, glibc >= 2.28) into
## requirements.lock with hashes, keeping its current pins where they still fit (uv: the venv's, else on PATH);
## LOCK_ARGS=--upgrade (or --upgrade-package NAME) moves to newer releases
UV ?= $(if $(wildcard $(BIN)/uv),$(BIN)/uv,uv)
lock:
	$(UV) pip compile pyproject.toml --extra cpu --extra team --extra bench --extra test --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --generate-hashes --quiet $(LOCK_ARGS) -o requirements.lock

## demo: install, start the embedded MLflow server, train linear + GBM + DNN on supercon and the
## Galaxy Zoo CNN, print results and the UI URL
demo: install
	$(BIN)/physml server start --port $(PORT)
	MLFLOW_TRACKING_URI=http://127.0.0.1:$(PORT) $(BIN)/physml supercon train --model all --preset demo
	MLFLOW_TRACKING_URI=http://127.0.0.1:$(PORT) $(BIN)/physml galaxy train --preset demo
	@echo "The server keeps running for the UI: http://127.0.0.1:$(PORT)"
	@$(BIN)/physml next-steps

## team-demo: the team stack on this machine (PostgreSQL database, S3-compatible server, MLflow server
## with basic auth; see infra/README.md), then the supercon demo logging to it as its admin
team-demo: install
	infra/team-stack.sh up --port $(TEAM_PORT)
	eval "$$($(BIN)/physml team env)" && $(BIN)/physml supercon train --model all --preset demo
	@echo "Stop the stack with: make team-down"

## team-down: stop the team stack that team-demo started
team-down:
	$(BIN)/physml team down

## browser: Debian's chromium + chromium-driver for the MLflow UI test, and openssh-server, socat and
## rsync for the `ray up` test (apt, as root or with sudo), if missing
browser:
	@if ! { command -v chromium && command -v chromedriver && command -v socat && command -v rsync \
	        && { command -v sshd || test -x /usr/sbin/sshd; }; } >/dev/null; then \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); export DEBIAN_FRONTEND=noninteractive; \
	  PACKAGES="chromium chromium-driver openssh-server socat rsync"; \
	  $$SUDO apt-get install -y -q $$PACKAGES >/dev/null \
	  || { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q $$PACKAGES >/dev/null; } \
	  || echo "could not install $$PACKAGES: the MLflow UI test (PHYSML_BROWSER_TESTS=off skips it) and the ray up test will fail"; \
	fi

## test: install and run the whole test suite (starts its own servers on free ports; drives the UI in chromium)
test: install browser
	$(BIN)/python -m pytest

## test-fast: the edit loop's tier: no servers, no training (under 2 minutes)
test-fast: install
	$(BIN)/python -m pytest -m "not integration and not slow" -q

## lint: ruff's lint and format checks (CI runs them before the tests); `make format` applies the formatter
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: every script in benchmarks/ (under 50 min on 2 cores): prints a summary table and logs each
## benchmark as an MLflow run in the `benchmarks` experiment (the embedded server unless MLFLOW_TRACKING_URI
## is set). BENCH_ARGS="--only galaxy_pipeline", "--quick", ... (see `physml bench --help`)
bench: install
	$(BIN)/physml bench --budget-minutes 55 --data-dir $(PHYSML_DATA_DIR) --port $(PORT) $(BENCH_ARGS)

server-start: install
	$(BIN)/physml server start --port $(PORT)

server-stop:
	$(BIN)/physml server stop

clean:
	rm -rf $(VENV) .physml .pytest_cache
