# The two commands of the README. Each creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "FitSync needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

run: $(STAMP)  ## FitSync with embedded stores and demo data on http://127.0.0.1:8000
	$(BIN)/fitsync demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint  ## the whole suite: lint, types, tests
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/identity.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
