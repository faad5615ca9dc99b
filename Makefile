# The whole developer interface: `make run`, `make test`, `make lint`, `make bench`.
# Works from any directory (`make -f path/to/Makefile run`): the venv is the checkout's, the
# bot reads the .env of the directory it runs in.
PYTHON ?= python3
ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
VENV := $(ROOT)/.venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench fake-router lock clean

$(STAMP): $(ROOT)/pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Easel needs Python 3.11 or newer"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '$(ROOT)[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m bot

test: $(STAMP)
	cd $(ROOT) && $(BIN)/python -m pytest -q

lint: $(STAMP)
	cd $(ROOT) && $(BIN)/ruff format --check bot cogs tests benchmarks docs
	cd $(ROOT) && $(BIN)/ruff check bot cogs tests benchmarks docs
	cd $(ROOT) && $(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks

fake-router: $(STAMP)
	$(BIN)/python -m tests.fakes.router

# requirements.lock: every dependency (the PostgreSQL extra too) pinned with hashes, for the
# Docker image. Run after changing the dependencies in pyproject.toml.
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet pip-tools
	cd $(ROOT) && $(BIN)/pip-compile --quiet --extra postgres --generate-hashes --strip-extras \
	    --no-emit-find-links --no-emit-index-url --allow-unsafe -o requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
