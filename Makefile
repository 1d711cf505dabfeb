# Satark Mitra. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
RASA := $(BIN)/rasa
export PYTHONPATH := $(CURDIR)
export SATARK_VAR_DIR ?= $(CURDIR)/var
# `make run`, `make shell` and the tests are development: secrets missing from the environment are
# generated under var/secrets/. Production sets SATARK_DEV_MODE=false and real secrets (README).
export SATARK_DEV_MODE ?= true
# Rasa and TensorFlow: no telemetry, quiet start-up.
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_WARN_20 := 0
# Sanic (Rasa and the action server) closes idle keep-alive connections after 5 s by default,
# while its clients (Rasa's action calls, nginx) reuse them longer: requests then fail with
# "Cannot write to closing transport" under load. Servers keep them longer than any client.
export SANIC_KEEP_ALIVE_TIMEOUT ?= 75

TRAINING_INPUTS := config.yml domain.yml $(shell find data -name '*.yml' 2>/dev/null) $(wildcard nlu_components/*.py)
MODEL_STAMP := models/.trained
# The Compose specification's JSON schema, from a pinned PyPI release (tests of deploy/).
COMPOSE_SCHEMA := var/schemas/compose_spec.json

.PHONY: help install train run shell test test-unit test-dialogue bench bench-dashboard bench-load bench-sustained lint migrate lock clean browser retention nginx

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

install: $(VENV)/.installed ## Create .venv with Python 3.10 and install the pinned requirements

$(VENV)/.installed: requirements.lock
	@py="$$(scripts/find_python310.sh)" || exit 1; \
	 echo "Using $$py"; \
	 [ -x $(BIN)/python ] || "$$py" -m venv $(VENV); \
	 $(BIN)/python -m pip install --quiet --upgrade pip==24.2 && \
	 $(BIN)/python -m pip install --quiet --no-deps -r requirements.lock && \
	 $(BIN)/python -m pip check >/dev/null && touch $@

migrate: install ## Apply database migrations to DATABASE_URL (default: SQLite under var/)
	@$(BIN)/python -m satark.db.migrate

$(MODEL_STAMP): $(TRAINING_INPUTS) | install
	$(RASA) train --fixed-model-name satark --out models
	@touch $@

train: install ## Train the Rasa model (only when training data, domain or config changed)
	@$(MAKE) --no-print-directory $(MODEL_STAMP)

run: install migrate train ## Start action server, Rasa server, WhatsApp sandbox and dashboard (SQLite)
	@scripts/run.sh

shell: install migrate train ## Chat with the bot in the terminal (starts the action server)
	@scripts/shell.sh

test: install migrate train browser lint test-dialogue test-unit ## Everything: lint, data validation, test conversations, pytest

retention: install migrate ## Delete old conversations, orphaned evidence, processed-message keys (ages: RETENTION_*)
	@umask 077 && $(BIN)/python -m satark.retention

lint: install ## ruff
	$(BIN)/ruff check .

test-dialogue: install train ## rasa data validate + test conversations with --fail-on-prediction-errors
	@scripts/validate_data.sh
	ACTION_SERVER_URL=$${ACTION_SERVER_URL:-http://127.0.0.1:5055/webhook} $(RASA) test core --model models/satark.tar.gz --stories tests/ --fail-on-prediction-errors --out var/results/core

browser: ## Debian's Chromium (and fonts for Hindi and emoji) for the browser test; apt-get as root
	@command -v /usr/bin/chromium >/dev/null || (apt-get update && \
	 DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-lohit-deva fonts-noto-color-emoji)

test-unit: install train nginx $(COMPOSE_SCHEMA) ## pytest: actions, data layer, connector, end to end
	$(BIN)/pytest -q

nginx: ## Debian's nginx (the reverse proxy of deploy/, used by tests and the load benchmark)
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { apt-get update -q && apt-get install -y -q nginx; }

$(COMPOSE_SCHEMA): | install
	@mkdir -p $(@D) && rm -rf /tmp/satark-compose && \
	 $(BIN)/pip download --quiet --no-deps --dest /tmp/satark-compose docker-compose==1.29.2 && \
	 $(BIN)/python -c "import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read('compose/config/compose_spec.json'))" \
	   /tmp/satark-compose/docker_compose-1.29.2-py2.py3-none-any.whl > $@

bench: install bench-dashboard bench-load ## NLU benchmark (held-out F1, per-script accuracy, CV, latency, training time), dashboard and load benchmarks
	$(BIN)/python -m bench.nlu --full-train

bench-load: install train nginx ## Capacity: citizens on WhatsApp and REST, saturation, 1 vs 2 servers behind nginx (bench/results/load.md)
	$(BIN)/python -m bench.load --scale-out $(LOAD_ARGS)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(BIN)/python -m bench.profile_turn

bench-sustained: install train ## The 5-minute sustained run with memory sampling
	$(BIN)/python -m bench.load --sustain-seconds 300 --out bench/results/sustained $(LOAD_ARGS)

bench-dashboard: install ## Dashboard service calls and rendered pages (inbox, overview) on 100,000 reports, SQLite and PostgreSQL
	$(BIN)/python -m bench.dashboard
	$(BIN)/python -m bench.dashboard_pages

lock: ## Re-resolve requirements.txt into requirements.lock (needs network)
	@py="$$(scripts/find_python310.sh)" && rm -rf /tmp/satark-lock && "$$py" -m venv /tmp/satark-lock && \
	 /tmp/satark-lock/bin/pip install --quiet -r requirements.txt && \
	 /tmp/satark-lock/bin/pip freeze --all --exclude-editable | grep -vE "^pip==" > requirements.lock

clean: ## Remove the virtualenv, trained models and runtime state
	rm -rf $(VENV) models/*.tar.gz $(MODEL_STAMP) var/results
