# Control Room: `make run` sets up and starts the demo; `make test` sets up and runs every test.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test test-py test-frontend check bench bench-twitch services browser clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

frontend/node_modules/.package-lock.json: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund

frontend/dist/index.html: frontend/node_modules/.package-lock.json $(shell find frontend/src frontend/index.html frontend/vite.config.ts -type f 2>/dev/null)
	cd frontend && npm run build

## setup: Python venv with the app and dev tools, the console built
setup: $(STAMP) frontend/dist/index.html

## run: set up, then run the demo (SQLite + in-memory bus, simulated event) on :8000
run: setup
	$(BIN)/controlroom demo

## services: make sure Redis and PostgreSQL answer (installs/starts them if not)
services:
	./scripts/services.sh

## browser: Debian's Chromium for the console tests (never a downloaded browser)
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## test: set up, start services, run every test (both stacks, Chromium, frontend units)
test: setup services browser test-frontend test-py

test-py:
	$(BIN)/python -m pytest -q

test-frontend:
	cd frontend && npm run check && npm test

## check: format check, lint, types (Python and Svelte)
check: setup
	$(BIN)/ruff format --check app tests bench
	$(BIN)/ruff check app tests bench
	$(BIN)/mypy
	cd frontend && npm run check

## bench: Live-10, then 5,000 audience voters in 10 s, then the report of a 2 M-message event; writes bench/results/
bench: setup services
	$(BIN)/python -m bench.live10
	$(BIN)/python -m bench.audience_votes
	$(BIN)/python -m bench.report

## bench-twitch: the Twitch reader's parse + hand-off rate on one core (target >= 20,000 msg/s)
bench-twitch: setup services
	$(BIN)/python -m bench.twitch_parse
	$(BIN)/python -m bench.twitch_parse --count 60000 --redis redis://127.0.0.1:6379/9

clean:
	rm -rf $(VENV) frontend/node_modules frontend/dist bench/results
