# golive — the two commands a newcomer needs: `make demo` (a real release onto the local environment)
# and `make test`. Every target creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The suite runs on this many xdist workers (`make test PYTEST_WORKERS=1`; 0 runs it in this one process). Most of
# it waits — the lab boots and converges, gate windows, polls — so more workers than cores pay; tests/support/
# parallel.py keeps what shares the lab, a fixed port or a module's fixture on one worker and starts the lab first.
PYTEST_WORKERS ?= 4
PYTEST_SUITE = -n $(PYTEST_WORKERS) --durations=30

.PHONY: demo down run test test-fast test-report pytest-suite lint format bench bench-release bench-loadtest infra-check infra-snapshot clean

# --no-compile: Python compiles what is imported when it is first imported; compiling every installed module up front
# took half of the install (64 s -> 31 s measured on one machine, warm pip cache).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -e '.[test,bench]'
	touch $(STAMP)

## demo: a real release of the working tree onto the local environment (fab release --env local)
demo: $(STAMP)
	$(BIN)/fab release --env local
	@echo
	@echo "The service answers on http://127.0.0.1:8000 (docs: /docs); the Daraja simulator on http://127.0.0.1:8100."
	@echo "Buy a package (phone ending 00 pays; see simulators/daraja/README.md):"
	@echo "  curl -s -X POST http://127.0.0.1:8000/api/payments -H 'Content-Type: application/json' \\"
	@echo "       -H \"Idempotency-Key: \$$(date +%s%N)\" \\"
	@echo "       -d '{\"phone\": \"0708374100\", \"package_id\": \"usdt-10\", \"wallet_address\": \"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\"}'"
	@echo "Then: .venv/bin/fab status --env local | history | rollback | rollout --env local; make down stops it all."

## down: stop the local environment (supervisord, its programs, the embedded PostgreSQL)
down: $(STAMP)
	$(BIN)/fab local.down

## run: the service on 127.0.0.1:8000 with an embedded PostgreSQL and the Daraja simulator (Ctrl-C stops)
run: $(STAMP)
	$(BIN)/python -m app.local

## test: lint, then the whole suite on PYTEST_WORKERS workers, the 30 slowest tests listed (what CI runs: .ci/run)
test: $(STAMP) lint
	$(BIN)/python -m pytest $(PYTEST_SUITE)

# The arguments `make test` gives pytest (.ci/run runs pytest itself with them, so that pytest's exit code is CI's)
pytest-suite:
	@printf '%s\n' '$(PYTEST_SUITE)'

## test-fast: the inner loop — everything not marked slow, on the same workers
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -q -n $(PYTEST_WORKERS)

## test-report: the whole suite, leaving the evidence the checks read (fab check: tests green, coverage >= 80 %)
test-report: $(STAMP)
	mkdir -p state/reports
	$(BIN)/python -m pytest -q --junitxml=state/reports/junit.xml \
		--cov=app --cov=foundation --cov=release --cov=checks --cov-report=xml:state/reports/coverage.xml

## lint: ruff, and the import contracts of pyproject.toml (the layers of design.md)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: HTTP throughput and latency (needs wrk: apt-get install wrk); prints its figures
bench: $(STAMP)
	$(BIN)/python -m bench.http

## bench-release: wall time of a warm fab release --env local per phase, and of fab rollback
bench-release: $(STAMP)
	$(BIN)/python -m bench.release

## bench-loadtest: requests/s and p95/p99 at the SLO (Locust) on a throwaway local environment
bench-loadtest: $(STAMP)
	$(BIN)/python -m bench.loadtest

## infra-check: the Pulumi program under mocks (tests/infra) and the snapshot comparison
infra-check: $(STAMP)
	$(BIN)/python -m pytest tests/infra -q
	$(BIN)/python -m infra.snapshot

## infra-snapshot: refresh infra/snapshots and infra/examples after a deliberate infrastructure change
infra-snapshot: $(STAMP)
	$(BIN)/python -m infra.snapshot --update

clean:
	rm -rf $(VENV) state .pytest_cache
