# One entry point for people, cron and CI. Every target is safe to run again.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SAMPLE_CUSTOMERS ?= 200
SAMPLE_READINGS ?= 50
# e.g. JUPYTER_ARGS="--no-browser --port 8890" (or --allow-root in a container)
JUPYTER_ARGS ?=
# Every install takes the exact versions of requirements.lock (ranges: pyproject.toml).
PIP_FLAGS := --quiet --disable-pip-version-check -c requirements.lock

.PHONY: demo test test-fast lint notebooks bench soak install install-dev lock clean

## demo: install, generate sample data, run every layer, list the tables
demo: install
	$(BIN)/lakehouse generate --customers $(SAMPLE_CUSTOMERS) --readings-per-customer $(SAMPLE_READINGS) --files 3 --malformed 2
	$(BIN)/lakehouse run
	$(BIN)/lakehouse tables

## test: install with the dev extras and run the whole suite: on TEST_WORKERS workers (a test
## module stays on one worker, so its fixtures are built once; slow modules start first), then
## the tests that time processes (marked serial) alone
TEST_WORKERS ?= 2
test: install-dev
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope -m "not serial"
	$(BIN)/python -m pytest -m serial

## test-fast: the tests not marked slow, in about a minute (transforms, config, files, CLI)
test-fast: install-dev
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope -m "not slow"

## notebooks: install Jupyter into .venv/ and open notebooks/ (kernel: the project's .venv)
notebooks: $(VENV)/.installed-notebooks
	$(BIN)/jupyter lab notebooks/ $(JUPYTER_ARGS)

$(VENV)/.installed-notebooks: pyproject.toml requirements.lock | $(VENV)/bin/python
	$(BIN)/python -m pip install $(PIP_FLAGS) -e '.[notebooks]'
	touch $(VENV)/.installed $@

## bench: lakehouse vs classic Spark vs DuckDB at SCALE (tiny, S, M, L), median of REPEATS runs
SCALE ?= S
REPEATS ?= 3
bench: install-dev
	$(BIN)/python -m benchmarks.bench --scale $(SCALE) --repeats $(REPEATS)

## soak: DAYS simulated days of scheduled runs, a fresh process each (cron-like); per run: wall
## time, peak RSS, rows per table, Delta log size. Writes benchmarks/results/soak-$(DAYS).json
DAYS ?= 30
SEED ?= 1
soak: install-dev
	$(BIN)/python -m benchmarks.soak --days $(DAYS) --seed $(SEED)

## lint: ruff (lint + format check), mypy, and the import contract (pyproject.toml)
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## lock: re-resolve requirements.lock from pyproject.toml's ranges (newest versions; run the tests)
lock: | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	sed -n 1,2p requirements.lock > requirements.lock.new
	$(BIN)/uv pip compile pyproject.toml --all-extras --python-version 3.11 --no-header --quiet >> requirements.lock.new
	mv requirements.lock.new requirements.lock

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml requirements.lock | $(VENV)/bin/python
	$(BIN)/python -m pip install $(PIP_FLAGS) -e '.[sail]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml requirements.lock | $(VENV)/bin/python
	$(BIN)/python -m pip install $(PIP_FLAGS) -e '.[dev]'
	touch $(VENV)/.installed $@

clean:
	rm -rf data .pytest_cache .mypy_cache .ruff_cache
