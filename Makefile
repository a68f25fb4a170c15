# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
export FLASK_APP := referrals

.PHONY: install system-deps run worker test test-sqlite test-postgres bench bench-load bench-pages bench-datasets restore-drill cluster lint translations clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed translations

# Debian packages pip cannot provide (WeasyPrint's Pango and HarfBuzz-Subset, fonts, and Chromium
# for the browser tests). As root it installs what is missing; otherwise it prints the command.
system-deps:
	@scripts/system-deps test

# Compiles the Dutch catalogue (.mo files are build output, not committed).
translations: $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy -d referrals/translations -D messages

run: install
	@scripts/system-deps run
	$(BIN)/flask db upgrade
	$(BIN)/flask load-postcodes
	$(BIN)/flask load-demo
	$(BIN)/flask demo-accounts
	@echo "Serving on http://127.0.0.1:$(PORT)"
	OFFER_TIMER_SECONDS=60 $(BIN)/flask run --host 127.0.0.1 --port $(PORT)

# Delivers notifications every 30 s (development: .eml files in instance/outbox/); Ctrl-C stops.
worker: install
	$(BIN)/flask send-notifications --loop

# The production set-up scaled out on one machine: two app servers behind a round-robin proxy on
# http://127.0.0.1:$(PORT), PostgreSQL database referrals_cluster, Redis, two of each worker.
cluster: install
	@scripts/system-deps run
	$(BIN)/python scripts/cluster.py --port $(PORT)

# The whole suite on SQLite, then again on PostgreSQL when one answers (or TEST_DATABASE_URL is set).
test: system-deps install
	$(BIN)/ruff check referrals config tests migrations bench scripts
	$(BIN)/lint-imports --no-cache
	$(MAKE) --no-print-directory test-sqlite
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
		$(MAKE) --no-print-directory test-postgres PG_URL="$$TEST_DATABASE_URL"; \
	elif $(BIN)/python -c "import socket; socket.create_connection(('127.0.0.1', 5432), 2).close()" 2>/dev/null; then \
		$(MAKE) --no-print-directory test-postgres; \
	else \
		echo "PostgreSQL not reachable on 127.0.0.1:5432: the PostgreSQL run was not done."; \
	fi

test-sqlite: export FAIL_ON_SKIP ?= 1
test-sqlite:
	@echo "== test suite on SQLite =="
	TEST_DATABASE_URL= $(BIN)/pytest $(PYTEST_ARGS)

test-postgres: export FAIL_ON_SKIP ?= 1
test-postgres:
	@echo "== test suite on PostgreSQL =="
	TEST_DATABASE_URL="$(PG_URL)" $(BIN)/pytest $(PYTEST_ARGS)

# Benchmarks print figures; they are not tests (tests check behaviour, not time). They take
# their data sets from caches (bench/datasets.py); the first run builds them (about 4 min for
# 200,000 referrals, 20 for 1,000,000).
bench: install
	@started=$$(date +%s); \
	$(BIN)/python -m bench.bench_matching && \
	$(BIN)/python -m bench.bench_uptake && \
	$(BIN)/python -m bench.bench_postcodes && \
	$(MAKE) --no-print-directory bench-load && \
	$(MAKE) --no-print-directory bench-pages; \
	status=$$?; echo "make bench: wall time $$(( $$(date +%s) - started )) s"; exit $$status

# The product under HTTP load (gunicorn, production config, Locust) next to a bare Flask app.
bench-load: install
	$(BIN)/python -m bench.bench_load

# Every daily page at 8 connections against a bare 50-row table page, at 200,000 and 1,000,000
# referrals (BENCH_PAGES_SIZES, _ROUNDS, _SECONDS).
bench-pages: install
	$(BIN)/python -m bench.bench_pages

# Builds (or brings up to date) the cached data sets ahead of a benchmark.
bench-datasets: install
	$(BIN)/python -m bench.datasets 200000 1000000 --sqlite

# Backs up DATABASE_URL, restores it into a scratch copy and checks rows, alembic_version and
# that the TOTP secrets decrypt with DATA_ENCRYPTION_KEY (see scripts/restore-drill).
restore-drill: install
	$(BIN)/python scripts/restore-drill

lint: $(VENV)/.installed
	$(BIN)/ruff check referrals config tests migrations bench scripts
	$(BIN)/ruff format --check referrals config tests bench scripts
	$(BIN)/lint-imports --no-cache

# Run after changing user-facing strings; then translate the new entries in the .po file.
extract-messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k N_ --ignore-dirs ".* __pycache__ .venv" -o referrals/translations/messages.pot .
	$(BIN)/pybabel update -i referrals/translations/messages.pot -d referrals/translations -N --ignore-obsolete

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
