# Trellis: the two commands are `make run` and `make test`.
#
#   make run     install, build the vendored assets, start embedded PostgreSQL + Redis,
#                migrate, seed the demo and run runserver + celery worker + beat (Ctrl-C stops all)
#   make test    the same set-up, then ruff, import-linter, the migration check and pytest
#   make bench   the deal and tier-engine benchmark (generates the database trellis_bench once)
#   make stop    stop the embedded PostgreSQL/Redis (they outlive `manage.py` commands)
#
# Set DATABASE_URL (and DATABASE_OWNER_URL) / REDIS_URL to use existing servers instead.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
INSTALL_STAMP := $(VENV)/.trellis-installed
NPM_STAMP := node_modules/.trellis-installed
VENDOR := .assets/vendor
PYTEST_WORKERS ?= 2

# The files copied out of node_modules into .assets/vendor/ (served as {% static 'vendor/...' %}).
VENDOR_FILES := \
	node_modules/htmx.org/dist/htmx.min.js \
	node_modules/@picocss/pico/css/pico.min.css \
	node_modules/chart.js/dist/chart.umd.min.js \
	node_modules/chart.js/dist/chart.umd.min.js.map

.PHONY: help venv install postgres assets run test bench lint fmt stop services status clean

help:
	@echo "make run      start Trellis at http://127.0.0.1:8000 (demo data, worker, beat)"
	@echo "make test     lint, import contracts, migration check and the whole pytest suite"
	@echo "make bench    deal list, search, submit and tier-engine timings at a million deals (BENCH_ARGS=--help)"
	@echo "make stop     stop the embedded PostgreSQL and Redis"
	@echo "make lint     ruff check, ruff format --check, lint-imports"
	@echo "make fmt      ruff format and ruff check --fix"

# ---------------------------------------------------------------- Python environment

$(VPY):
	$(PYTHON) -m venv $(VENV)

# Re-install only when pyproject.toml changed (or the venv is new).
$(INSTALL_STAMP): pyproject.toml | $(VPY)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e ".[dev]"
	touch $@

venv: $(INSTALL_STAMP)

install: $(INSTALL_STAMP)

# ---------------------------------------------------------------- PostgreSQL server binaries

# The embedded cluster (config/devservices.py) needs PostgreSQL >= 14 server binaries.
# Skipped when DATABASE_URL points at an existing server.
# Loads config/devservices.py by path (stdlib only), so it works before the venv exists.
PG_CHECK := $(PYTHON) -c 'import importlib.util as u, sys; \
s = u.spec_from_file_location("trellis_devservices", "config/devservices.py"); \
m = u.module_from_spec(s); sys.modules[s.name] = m; s.loader.exec_module(m); \
print(m.find_pg_bindir())'

postgres:
	@if [ -n "$${DATABASE_URL:-}" ]; then exit 0; fi; \
	if $(PG_CHECK) >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" = "0" ]; then \
		echo "PostgreSQL >= 14 not found: installing it with apt-get"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update && apt-get install -y postgresql; \
		$(PG_CHECK) >/dev/null || { echo "PostgreSQL >= 14 is still missing." >&2; exit 1; }; \
	else \
		echo "PostgreSQL >= 14 server binaries are needed for the embedded dev database." >&2; \
		echo "Install them (Debian/Ubuntu):  sudo apt-get install -y postgresql" >&2; \
		echo "or point DATABASE_URL (and DATABASE_OWNER_URL) at an existing server." >&2; \
		exit 1; \
	fi

# ---------------------------------------------------------------- front-end assets (never a CDN)

$(NPM_STAMP): package.json $(wildcard package-lock.json)
	@if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; \
	else npm install --no-audit --no-fund; fi
	touch $@

assets: $(NPM_STAMP)
	mkdir -p $(VENDOR)
	cp $(VENDOR_FILES) $(VENDOR)/

# ---------------------------------------------------------------- the two commands

run: install postgres assets
	$(VPY) -m config.devrun

test: install postgres assets
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VPY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) tests/

# Generates the database trellis_bench on first use (a few minutes; reused while the
# parameters and the migrations are unchanged), then prints the figures (README, Benchmarks).
BENCH_ARGS ?=
bench: install postgres
	$(VPY) -m bench $(BENCH_ARGS)

# ---------------------------------------------------------------- conveniences

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

fmt: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

services: install postgres
	$(VPY) -m config.devservices start

status: install
	$(VPY) -m config.devservices status

stop: install
	$(VPY) -m config.devservices stop

clean:
	rm -rf node_modules .assets/vendor staticfiles .pytest_cache .ruff_cache
