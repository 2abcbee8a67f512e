# CSP Hub: the two commands in the README, and the steps behind them.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
CSP := $(VENV)/bin/csp
SHARED ?= ../shared
STAMP := $(VENV)/.installed

.PHONY: demo test install lint test-sqlite test-postgres test-browser browser-deps assets clean bench

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

## make demo: install, migrate SQLite, load real Cleveland data, serve on 127.0.0.1:8000
demo: install
	$(CSP) migrate --verbosity 0
	$(CSP) load-demo --shared $(SHARED)
	$(CSP) runserver 127.0.0.1:8000

## make test: every check and every test, on SQLite and on a throwaway PostgreSQL
test: install lint test-sqlite test-postgres

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy --strict src/csp_analytics
	$(VENV)/bin/lint-imports
	DJANGO_SETTINGS_MODULE=csp_platform.settings $(CSP) makemigrations --check --dry-run >/dev/null

test-sqlite: install
	CSP_SHARED=$(abspath $(SHARED)) $(PY) -m pytest -q -p no:cacheprovider

test-postgres: install
	@url=$$(scripts/pg_throwaway.sh start) && trap 'scripts/pg_throwaway.sh stop' EXIT && \
	  echo "PostgreSQL at $$url" && \
	  DATABASE_URL=$$url CSP_SHARED=$(abspath $(SHARED)) $(PY) -m pytest -q -p no:cacheprovider tests/platform

bench: install
	$(PY) benchmarks/bench_import.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
