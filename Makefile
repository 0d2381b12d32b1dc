# TelePay. Two commands matter: `make run` (the whole system locally) and `make test` (all tests).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: venv system-deps run up down status test test-modules drills smoke lint typecheck docs docs-check catalogs bundles bench clean

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

venv: $(VENV)/.installed

## System packages the tests use beyond Python: Node runs NowPayments' reference IPN signer;
## Chromium runs the owner app's browser tests (driven by Playwright, whose own browser download is not used).
## Installs only what is missing (apt-get; CI calls this before `make test`).
system-deps:
	@command -v node >/dev/null 2>&1 || { \
		sudo=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends nodejs; }
	@node --version
	@command -v chromium >/dev/null 2>&1 || { \
		sudo=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends chromium; }
	@chromium --version 2>/dev/null

## The whole system in the foreground: emulators, stand-ins, every function, the scheduler, a demo.
run: venv
	$(BIN)/python -m local.stack run

## The same in the background; returns once healthy and writes .local/endpoints.json.
up: venv
	$(BIN)/python -m local.stack up

down:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m local.stack down; else echo "nothing to stop"; fi

status: venv
	$(BIN)/python -m local.stack status

## Every test: lint, types, import rules, generated docs, unit, integration (emulators) and end to end (whole stack).
## pytest-randomly shuffles the tests and prints the seed ("Using --randomly-seed=N") to replay an order.
test: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m scripts.gen_docs --check
	$(BIN)/pytest

## Each unit and integration test module alone (CI runs it after `make test`).
test-modules: venv
	$(BIN)/python -m scripts.test_modules

## Failure drills on a private stack (ports 29000+): faults injected while a bounded stream runs,
## then every payment, access, notice, keypad press, removal and broadcast checked from outside.
drills: venv
	$(BIN)/python -m scripts.drills

## The smoke test: every path of a running TelePay tried once, a table of what passed and the fix
## for each failure; removes what it made. Default: the stack of `make up`. A deployed project:
## `make smoke SMOKE_ARGS="--project PROJECT --region REGION"` (terraform/README.md).
SMOKE_ARGS ?= --endpoints .local/endpoints.json
smoke: venv
	$(BIN)/python -m scripts.smoke $(SMOKE_ARGS)

lint: venv
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy

docs: venv
	$(BIN)/python -m scripts.gen_docs

## The message catalogs: the template from the source, every language's catalog brought in step
## (new texts to translate added, gone ones dropped). `make test` fails while one lacks a text.
catalogs: venv
	$(BIN)/python -m scripts.i18n update

bundles: venv
	$(BIN)/python -m scripts.build_bundles

## Every benchmark, each beside its floor measured in the same run, as one table (see README).
## `make bench BENCH_ARGS=--quick` runs the CI-sized version (a couple of minutes).
bench: venv
	$(BIN)/python -m scripts.bench $(BENCH_ARGS)

clean: down
	rm -rf build .local .pytest_cache .mypy_cache .ruff_cache
