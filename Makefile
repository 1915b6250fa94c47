# golive — the two commands a newcomer needs are `make demo` (later: a real release onto the local
# environment) / `make run`, and `make test`. Every target creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

## run: the service on 127.0.0.1:8000 with an embedded PostgreSQL and the Daraja simulator (Ctrl-C stops)
run: $(STAMP)
	$(BIN)/python -m app.local

## test: lint, then the whole suite (what CI runs)
test: $(STAMP) lint
	$(BIN)/python -m pytest

## test-fast: the inner loop — everything not marked slow
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: HTTP throughput and latency (needs wrk: apt-get install wrk); prints its figures
bench: $(STAMP)
	$(BIN)/python -m bench.http

clean:
	rm -rf $(VENV) state .pytest_cache
