# igflow — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
SEED ?= 42
PATIENTS ?= 250
# every core; the browser tests are one xdist group (one live server, one chromium)
PYTEST_ARGS ?= -n auto --dist loadgroup

.PHONY: demo test lint format install dev serve bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

dev: $(VENV)/.installed-dev

## make demo: install, migrate the SQLite database, load the synthetic network, serve on http://$(HOST):$(PORT)
demo: install
	$(BIN)/igflow db upgrade
	$(BIN)/igflow demo --seed $(SEED) --patients $(PATIENTS)
	@echo "Open http://$(HOST):$(PORT) and sign in with one of the demo logins above."
	$(BIN)/igflow serve --host $(HOST) --port $(PORT)

serve: install
	$(BIN)/igflow serve --host $(HOST) --port $(PORT)

lint: dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src/igflow/clinical src/igflow/scheduling src/igflow/security src/igflow/catalog src/igflow/inventory/core.py src/igflow/inventory/gs1.py src/igflow/authorizations/core.py src/igflow/costs/core.py src/igflow/routing src/igflow/home/burden.py src/igflow/home/map.py \
		src/igflow/reports/stats.py src/igflow/reports/utilisation.py src/igflow/reports/on_time.py src/igflow/reports/outcomes.py \
		src/igflow/reports/prior_auth.py src/igflow/reports/drug.py src/igflow/reports/safety.py src/igflow/reports/charts.py src/igflow/reports/table.py

format: dev
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

## make test: install the test dependencies, lint, and run every test.
## pytest's exit code 5 ("no tests collected") is a failure here: this suite always has tests,
## so collecting none means something is broken (a bad path, an import error swallowed).
test: lint
	@$(BIN)/pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing, the suite must never be empty" >&2; exit 1; fi; \
	exit $$rc

bench: dev
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis build dist src/*.egg-info
