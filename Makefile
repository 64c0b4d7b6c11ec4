# Two commands: `make run` starts the whole product; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --disable-pip-version-check --progress-bar on -c constraints.txt

.PHONY: run test check test-embedded test-services install install-dev bench clean

$(BIN)/python:
	@echo "==> creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	@echo "==> installing shipml and its dependencies into $(VENV) (a few minutes the first time)"
	$(PIP) -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	@echo "==> installing the test and Spark extras"
	$(PIP) -e ".[dev,spark]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## run: set up, start API + worker + UI at once, prepare each app in the background (Ctrl-C stops all)
run: install
	@$(BIN)/shipml up || [ $$? -eq 130 ]  # Ctrl-C is how it stops: not an error

## test: the whole suite on embedded defaults, then again on PostgreSQL + Redis
test: install-dev
	scripts/ensure-chromium
	$(MAKE) --no-print-directory check test-embedded test-services

## check: lint and type-check (part of `make test`)
check:
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src

test-embedded:
	$(BIN)/pytest -n 2 --dist loadfile -q --durations=30

test-services:
	SHIPML_TEST_SERVICES=1 $(BIN)/pytest -n 2 --dist loadfile -q --durations=30

## bench: rerun every benchmark (figures go to benchmarks/README.md by hand, with date and machine)
bench: install-dev
	for b in benchmarks/*/run.py; do echo "# $$b"; $(BIN)/python $$b; done

clean:
	rm -rf var .pytest_cache
