# The whole developer interface: `make run`, `make test`, `make lint`, `make bench`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench fake-router clean chromium

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Easel needs Python 3.11 or newer"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m bot

test: $(STAMP) chromium
	$(BIN)/python -m pytest -q

# Debian's Chromium for the paint page's browser tests (Playwright drives it; no browser
# download). Best effort: without it those tests skip locally, and fail in CI.
chromium:
	@test -x /usr/bin/chromium || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& DEBIAN_FRONTEND=noninteractive apt-get update -qq \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "chromium is not installed: the browser tests will skip here (and fail in CI)"

lint: $(STAMP)
	$(BIN)/ruff format --check bot cogs tests benchmarks
	$(BIN)/ruff check bot cogs tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks

fake-router: $(STAMP)
	$(BIN)/python -m tests.fakes.router

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
