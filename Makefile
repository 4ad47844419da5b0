# jinbao — the two commands: `make run` and `make test` (both run `make setup` first).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.jinbao-installed
OUT ?= out
# more `jinbao run` options, e.g. RUN_ARGS='--lab-name jbrun2 --mgmt-net 100.126.201.0/24 --json' (the e2e test
# runs make run this way in a lab of its own); empty: the default lab (jbrun, 100.126.200.0/24)
RUN_ARGS ?=
# two workers, one per lab track (tests/conftest.py); the other tests go to whichever finishes first (a third
# worker beside two lab tracks slowed the Ansible builds past their timeouts on 2 cores)
TEST_WORKERS ?= 2

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
	$(BIN)/jinbao run --out $(OUT) $(RUN_ARGS)

test: setup
	$(BIN)/ruff check .
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf $(OUT) .pytest_cache
