# jinbao — the two commands: `make run` and `make test` (both run `make setup` first).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.jinbao-installed
OUT ?= out
# three workers: two lab tracks (tests/conftest.py: the labs, and `make run` end to end) and the other tests
TEST_WORKERS ?= 3

.PHONY: setup run test lint clean host-packages

setup: host-packages $(STAMP)

host-packages:
	@bash scripts/setup-host.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

run: setup
	$(BIN)/jinbao run --out $(OUT)

test: setup
	$(BIN)/ruff check .
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf $(OUT) .pytest_cache
