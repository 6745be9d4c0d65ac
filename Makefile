# Two commands for a newcomer: `make run` and `make test`. Only Python 3.11 and make needed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := webapp
# Development is chosen by name; without APP_ENV the app runs its production config.
export APP_ENV ?= development

.PHONY: run test bench bench-reports venv clean

$(BIN)/activate: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(BIN)/activate

venv: $(BIN)/activate

run: venv  ## migrate, seed demo data and serve on http://127.0.0.1:5000 (SQLite, no servers)
	$(BIN)/flask db upgrade
	$(BIN)/flask seed-demo
	$(BIN)/flask run --host 127.0.0.1 --port 5000

test: venv  ## the whole suite; PostgreSQL/Redis/browser tests skip with a reason when absent (never under CI=true)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: venv  ## load benchmark on gunicorn + PostgreSQL + Redis; writes bench/results.json
	$(BIN)/python -m bench.run

bench-reports: venv  ## reports at scale: 2,000 stores x 1,000 products, 10M movements on PostgreSQL; merges into bench/results.json
	$(BIN)/python -m bench.reports_scale

clean:
	rm -rf $(VENV) instance .pytest_cache test-artifacts
