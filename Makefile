# Two commands for a newcomer: `make run` and `make test`. Only Python 3.11 and make needed.
#   make run [PORT=5001]   install what running needs, migrate, seed once, serve
#   make reset             erase the demo database's data and seed it again (keeps .venv)
#   make test-fast         the unit layer only (SQLite; no PostgreSQL, Redis or browser), < 1 min
#   make test              everything
# The venv's interpreter. A CPython built with profile-guided and link-time optimisation (the
# system's on Debian and Ubuntu, the official Docker images) runs the app ~20 % faster than a
# plain build such as pyenv's default (docs/performance.md, "The interpreter"), so the system's
# /usr/bin/python3.11 is taken when it can make a venv (Debian: python3.11-venv), else
# python3.11 from PATH. `make PYTHON=...` chooses another; a venv made already is kept.
SYSTEM_PYTHON := /usr/bin/python3.11
PYTHON ?= $(shell $(SYSTEM_PYTHON) -c "import ensurepip" >/dev/null 2>&1 \
	&& echo $(SYSTEM_PYTHON) || echo python3.11)
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
# Test workers for test-fast (pytest-xdist); "auto" = one per core.
JOBS ?= auto
export FLASK_APP := webapp
# Development is chosen by name; without APP_ENV the app runs its production config.
export APP_ENV ?= development

.PHONY: run reset test test-fast bench bench-reports bench-import bench-fleet soak cluster drill venv venv-dev clean translations

# One stamp per requirements file: `make run` installs requirements.txt only (no pytest,
# Playwright, schemathesis or py-spy); the test and bench targets add requirements-dev.txt.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-run: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed-run

venv: $(VENV)/.installed-run
venv-dev: $(VENV)/.installed-dev

translations: venv-dev  ## extract messages, update the Urdu catalogue, fill from i18n/pending/*.po, compile
	$(BIN)/python -m i18n.merge_pending

run: venv  ## migrate, seed demo data (once; prints the accounts every time) and serve on http://$(HOST):$(PORT)
	$(BIN)/flask db upgrade
	$(BIN)/flask seed-demo
	$(BIN)/flask run --host $(HOST) --port $(PORT)

reset: venv  ## start the demo over: erase every row, seed again (the venv stays)
	$(BIN)/flask db upgrade
	$(BIN)/flask seed-demo --force

test: venv-dev  ## the whole suite, in parallel; PostgreSQL/Redis/browser tests skip with a reason when absent (never under CI=true)
	$(BIN)/python -m pytest -p no:cacheprovider -n $(JOBS) --dist loadfile $(PYTEST_ARGS)

# KIRYANA_UNIT_ONLY makes any unmarked test that reaches for a server fail, so the fast
# tier provably needs none (tests/services.py).
# Every schemathesis test is slow, and only collecting them (the schema's generated cases)
# costs each worker ~9 s: the fast tier does not open the module at all.
test-fast: venv-dev  ## the unit layer: SQLite only, in parallel
	KIRYANA_UNIT_ONLY=1 $(BIN)/python -m pytest -q -p no:cacheprovider -n $(JOBS) \
		-m "not postgres and not redis and not browser and not slow" \
		--ignore=tests/test_api_schemathesis.py $(PYTEST_ARGS)

bench: venv-dev  ## load benchmark on gunicorn + PostgreSQL + Redis; writes bench/results.json
	$(BIN)/python -m bench.run

bench-reports: venv-dev  ## reports at scale: 2,000 stores x 1,000 products, 10M movements on PostgreSQL; merges into bench/results.json
	$(BIN)/python -m bench.reports_scale

bench-import: venv-dev  ## bulk import: 50,000 product rows from one CSV on PostgreSQL (dry run, import, re-import); merges into bench/results.json
	$(BIN)/python -m bench.import_products

bench-fleet: venv-dev  ## N phones polling, selling and searching, open loop (FLEET_SIZES, default 500,1000,2000,3000); max_shops into bench/results.json
	$(BIN)/python -m bench.fleet

soak: venv-dev  ## gunicorn + worker + PostgreSQL + Redis under a mixed open-loop load (SOAK_SECONDS, default 600); merges into bench/results.json
	$(BIN)/python -m bench.soak

cluster: venv-dev  ## HAProxy :8080 -> 2 gunicorn nodes, live.py at /live/, pgbouncer, Redis, an RQ worker, each on its own port (docs/operations.md); Ctrl-C stops all
	$(BIN)/python -m ops.cluster

drill: venv-dev  ## failover drills: a synchronous standby promoted after the primary is SIGKILLed, then after its link is cut (network namespaces; root), mid-traffic; prints acknowledged / found / lost / duplicated / outage for each
	$(BIN)/python -m drill.failover

clean:
	rm -rf $(VENV) instance .pytest_cache test-artifacts
