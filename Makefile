# Two commands for a new user: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run chat test audit lock test-postgres bench system-deps install install-test lint pytest clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'

# The server on 127.0.0.1:8000 with SQLite and the bundled catalogue (channels from the environment:
# docs/channels.md).  `make chat` talks to the bot in the terminal instead.
run: install
	$(BIN)/bot db upgrade
	@echo 'staff console: http://127.0.0.1:8000/console/  (first account: $(BIN)/bot user add NAME --role operator)'
	$(BIN)/bot serve --host 127.0.0.1 --port 8000

chat: install
	$(BIN)/bot chat

lint: install-test
	$(BIN)/ruff check bot tests

pytest: install-test
	$(BIN)/pytest

# Debian's headless Chromium, with Japanese and emoji fonts, for the console's browser tests
# (tests/console/test_console_browser.py); installed with apt when missing and we are root, as CI is.
CHROMIUM_PACKAGES := chromium fonts-ipafont-gothic fonts-noto-color-emoji
system-deps:
	@dpkg -s $(CHROMIUM_PACKAGES) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(CHROMIUM_PACKAGES); \
	  else echo "system-deps: not root: install $(CHROMIUM_PACKAGES) for the browser tests"; fi; }

test: system-deps lint audit pytest

# Known vulnerabilities in the locked dependencies (requirements.lock, from `make lock`), by pip-audit
# against PyPI's advisory data.  No network, or a service that cannot audit these versions: a warning,
# not a failure (tools/audit.py says which).  A vulnerability found: the build fails.
audit: install-test
	$(BIN)/python tools/audit.py requirements.lock

# Rewrite requirements.lock from the test venv (after changing dependencies in pyproject.toml).
lock: install-test
	$(BIN)/pip freeze --exclude-editable --local | grep -v '^-e ' > requirements.lock

# `make test` with a throwaway PostgreSQL, as .ci/run does (Debian's postgresql package, installed
# when missing and we are root): the database tests then run on SQLite and on PostgreSQL.
test-postgres:
	@postgres=$$(.ci/postgres start) && eval "$$postgres" && trap '.ci/postgres stop' EXIT && $(MAKE) test

# Routing, reload, webhook events/s, start time and memory on this machine (< 5 min): bench/results.md.
bench: install
	$(BIN)/bot bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
