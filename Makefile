# The whole developer interface: `make run`, `make test`, `make lint`, `make bench`.
# Works from any directory (`make -f path/to/Makefile run`): the venv is the checkout's, the
# bot reads the .env of the directory it runs in.
PYTHON ?= python3
ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
VENV := $(ROOT)/.venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench fake-router lock clean chromium

$(STAMP): $(ROOT)/pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Easel needs Python 3.11 or newer"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '$(ROOT)[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m bot

test: $(STAMP) chromium
	cd $(ROOT) && $(BIN)/python -m pytest -q --durations=30

# Debian's Chromium for the paint page's browser tests (Playwright drives it; no browser
# download). Best effort: without it those tests skip locally, and fail in CI.
chromium:
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& DEBIAN_FRONTEND=noninteractive apt-get update -qq \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "chromium is not installed: the browser tests will skip here (and fail in CI)"

lint: $(STAMP)
	cd $(ROOT) && $(BIN)/ruff format --check bot cogs tests benchmarks docs
	cd $(ROOT) && $(BIN)/ruff check bot cogs tests benchmarks docs
	cd $(ROOT) && $(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks

fake-router: $(STAMP)
	$(BIN)/python -m tests.fakes.router

# requirements.lock: every dependency (the PostgreSQL and S3 extras too) pinned with hashes, for the
# Docker image. Run after changing the dependencies in pyproject.toml.
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet pip-tools
	cd $(ROOT) && $(BIN)/pip-compile --quiet --extra postgres --extra s3 --generate-hashes --strip-extras \
	    --no-emit-find-links --no-emit-index-url --allow-unsafe -o requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
