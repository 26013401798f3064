# The two commands: `make demo` and `make test`. Both work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/intently demo

test: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/intently bench --json

clean:
	rm -rf $(VENV) intently.db intently.db-wal intently.db-shm
