# Two commands on a fresh machine:  make demo  |  make test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install lock schema-lint chromium vendor-graphiql vendor-echarts console-screenshots demo demo-data test bench clean

# The example plugin is installed the way integrators install theirs, so the
# engine's own tests run with a third-party plugin installed.
EXAMPLE := examples/guanxi-birthdays

# Every install takes the versions pinned in constraints.txt (make lock).
PIP_INSTALL := $(BIN)/pip install --quiet -c constraints.txt

$(BIN)/.installed: pyproject.toml $(EXAMPLE)/pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(PIP_INSTALL) -e '.[test]'
	$(PIP_INSTALL) -e $(EXAMPLE)
	$(BIN)/guanxi warm-up  # compile the numba kernels once, into their cache
	touch $@

# graphql-schema-linter, pinned by its lock file, for tests/api/test_schema_lint.py.
SCHEMA_LINT := .ci/schema-lint
$(SCHEMA_LINT)/node_modules/.installed: $(SCHEMA_LINT)/package.json $(SCHEMA_LINT)/package-lock.json
	npm ci --prefix $(SCHEMA_LINT) --no-audit --no-fund --loglevel=error
	touch $@

install: $(BIN)/.installed
schema-lint: $(SCHEMA_LINT)/node_modules/.installed  # make test needs it, make demo does not

# The browser tests (tests/browser) drive the system's Chromium through
# Playwright (not Playwright's own download, which needs internet). make test
# installs it when missing and we are root on a Debian-like system (make demo
# does not need it); otherwise it says how.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "tests/browser are skipped without /usr/bin/chromium: sudo apt-get install -y chromium"; \
	  fi; \
	fi

# Re-resolve constraints.txt from scratch (the newest releases pyproject.toml
# allows, the bench and otel extras included) in a throwaway environment;
# then make clean test bench before committing it.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet '.[test,bench,otel]' ./$(EXAMPLE)
	{ sed -n '1,/^$$/p' constraints.txt; .lock-venv/bin/pip freeze --exclude guanxi --exclude guanxi-birthdays; } > constraints.new
	mv constraints.new constraints.txt && rm -rf .lock-venv

# Re-fetch GraphiQL's browser files from npm (versions in the script; api/static/graphiql/VENDOR.md).
vendor-graphiql:
	api/static/graphiql/vendor.sh

# Re-fetch the console's chart library from npm (api/console/static/vendor/VENDOR.md).
vendor-echarts:
	api/console/static/vendor/vendor.sh

# Refresh the screenshots in docs/console/ (docs/console.md): a demo tenant in
# a scratch database, the console in the system's Chromium.
console-screenshots: install chromium
	@fc-list :lang=zh | grep -q . || { [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk; } \
	  || echo "no Chinese font: the screenshots show boxes (sudo apt-get install -y fonts-noto-cjk)"
	$(BIN)/python -m bench.console_screenshots

# Build the demo tenant in ./guanxi.db (SQLite) and serve the API on it.
demo: install
	$(BIN)/guanxi demo

# Only build the demo data.
demo-data: install
	$(BIN)/guanxi demo --generate-only

# The whole suite on SQLite, and on PostgreSQL too when
# GUANXI_TEST_DATABASE_URL is set (.ci/run sets it): the engine's tests
# (tests/test_plugin_scaffold.py among them scaffolds a plugin and runs its
# tests), then the example plugin's own. Both run; either failing fails it.
test: chromium install schema-lint
	status=0; \
	$(BIN)/pytest || status=1; \
	$(BIN)/pytest $(EXAMPLE) || status=1; \
	exit $$status

bench: install
	$(PIP_INSTALL) -e '.[test,bench]'
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.rfm
	$(BIN)/python -m bench.clv
	$(BIN)/python -m bench.cli

clean:
	rm -rf $(VENV) .lock-venv $(SCHEMA_LINT)/node_modules *.egg-info .pytest_cache guanxi.db guanxi.db-wal guanxi.db-shm
