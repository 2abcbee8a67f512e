# CSP Hub: the two commands in the README, and the steps behind them.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
CSP := $(VENV)/bin/csp
SHARED ?= ../shared
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
VENDOR := src/csp_platform/core/static/vendor

.PHONY: demo test install lint test-sqlite test-postgres assets clean bench bench-web screenshots \
	system-deps system-deps-test

# Debian packages (scripts/system_deps.sh): installed when missing if run as root, otherwise
# named, and make stops. `make demo` needs Python 3.11 and npm; `make test` also PostgreSQL,
# Chromium and the Liberation fonts.
system-deps:
	@PYTHON=$(PYTHON) scripts/system_deps.sh demo

system-deps-test:
	@PYTHON=$(PYTHON) scripts/system_deps.sh test

$(STAMP): pyproject.toml | system-deps
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# Front-end packages (GOV.UK Frontend, Leaflet; axe-core and sass for tests and the build)
# come from the npm registry at install time, exactly as package-lock.json pins them, and
# are copied into the git-ignored core/static/vendor/ (scripts/build_assets.sh).
$(NODE_STAMP): package.json package-lock.json | system-deps
	@command -v npm >/dev/null || { echo "npm is needed for the web pages' front-end packages"; exit 1; }
	npm ci --ignore-scripts --no-audit --no-fund
	@touch $(NODE_STAMP)

$(VENDOR)/.built: $(NODE_STAMP) scripts/build_assets.sh src/csp_platform/core/static_src/govuk.scss
	scripts/build_assets.sh
	@touch $@

assets: $(VENDOR)/.built

install: system-deps $(STAMP) assets

## make demo: install, migrate SQLite, load real Cleveland data, serve on 127.0.0.1:8000
# (CSP_DEBUG: a developer's machine, with a throwaway secret key; production needs CSP_SECRET_KEY.)
demo: install
	CSP_DEBUG=True $(CSP) migrate --verbosity 0
	CSP_DEBUG=True $(CSP) load-demo --shared $(SHARED)
	CSP_DEBUG=True $(CSP) runserver 127.0.0.1:8000

## make test: every check and every test, on SQLite and on a throwaway PostgreSQL
test: system-deps-test install lint test-sqlite test-postgres

lint: install
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy --strict src/csp_analytics
	$(VENV)/bin/mypy src/csp_platform
	$(VENV)/bin/lint-imports
	DJANGO_SETTINGS_MODULE=csp_platform.settings $(CSP) makemigrations --check --dry-run >/dev/null

# SQLite: everything, including the browser tests in Debian's headless Chromium.
test-sqlite: system-deps-test install
	CSP_SHARED=$(abspath $(SHARED)) $(PY) -m pytest -q -p no:cacheprovider

test-postgres: system-deps-test install
	@url=$$(scripts/pg_throwaway.sh start) && trap 'scripts/pg_throwaway.sh stop' EXIT && \
	  echo "PostgreSQL at $$url" && \
	  DATABASE_URL=$$url CSP_SHARED=$(abspath $(SHARED)) $(PY) -m pytest -q -p no:cacheprovider -m "not browser" tests/platform

# Benchmarks run the hub as in production: a secret key of their own unless one is set.
BENCH_KEY = CSP_SECRET_KEY=$${CSP_SECRET_KEY:-$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')}

bench: system-deps-test install
	$(BENCH_KEY) $(PY) benchmarks/bench_import.py

## make bench-web: page and data-endpoint latency at 20 concurrent users (SQLite, PostgreSQL)
bench-web: system-deps-test install
	$(BENCH_KEY) CSP_SHARED=$(abspath $(SHARED)) $(PY) benchmarks/bench_web.py

## make screenshots: run the browser tests and keep a screenshot of every page
screenshots: system-deps-test install
	CSP_SCREENSHOTS=$(abspath docs/screenshots) CSP_SHARED=$(abspath $(SHARED)) \
	  $(PY) -m pytest -q -p no:cacheprovider -m browser tests/platform/web

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache node_modules $(VENDOR)
