# QMOI — the two set-up commands are `make run` and `make test`; each creates .venv
# on first use and installs the pinned dependencies before doing its job.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PYTEST_WORKERS ?= auto
AUDIT_PROBE := https://pypi.org/pypi/fastapi/0.165.0/json

.PHONY: audit run test test-unit test-airtel test-mpesa test-revenue test-transfer test-postgres lint format docs bench chaos soak install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/qmoi start

test: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS)

test-unit: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) tests/unit

test-airtel: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m airtel

test-mpesa: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m mpesa

test-revenue: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m revenue

test-transfer: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m transfer

test-postgres: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m postgres

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	@if $(BIN)/python -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=10)" $(AUDIT_PROBE) 2>/dev/null; \
	then $(MAKE) --no-print-directory audit; \
	else echo "dependency audit SKIPPED: PyPI's vulnerability data ($(AUDIT_PROBE)) cannot be reached from here — run 'make audit' where it can"; fi

# Known vulnerabilities (PyPI's advisory data) in every installed dependency; --strict
# fails when any package could not be checked, so an unreachable service is a failure.
audit: $(STAMP)
	$(BIN)/pip-audit --strict --skip-editable --progress-spinner off

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

# docs/configuration.md from the settings catalogue (a unit test checks it matches)
docs: $(STAMP)
	$(BIN)/python -m qmoi.config.docs

bench: $(STAMP)
	$(BIN)/python -m bench

SEED ?= 1
chaos: $(STAMP)
	$(BIN)/qmoi chaos --seed $(SEED)

soak: $(STAMP)
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
