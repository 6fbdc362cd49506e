# `make run` serves the app; `make test` runs every check. Both install what they need.
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 5000
PYTHON ?= python3
# Python's default is to cache compiled modules; an environment that turns it off
# (PYTHONDONTWRITEBYTECODE) makes every test process, server and CLI run compile the app again.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test test-fast test-postgresql lint install install-test translations browser-deps pdf-deps db-deps bench-deps nginx-deps lighthouse-deps node-deps lforms-deps serve bench two-servers lighthouse clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install -q -e ".[test]"
	touch $@

install: $(VENV)/.installed translations pdf-deps

install-test: $(VENV)/.installed-test translations browser-deps pdf-deps db-deps nginx-deps lforms-deps

# Compiled catalogs are build output: made from the .po files, not committed.
translations: $(VENV)/.installed
	$(VENV)/bin/pybabel -q compile -d screening/translations

instance/secret_key:
	mkdir -p instance
	$(PY) -c "import secrets; print(secrets.token_hex(32))" > $@
	chmod 600 $@

# Without an SMTP server, `make run` delivers e-mail to the local mailbox: instance/mail/,
# read on the "Mail and webhooks" page (README "E-mail under make run").
RUN_MAIL := $(if $(SCREENING_MAIL_SERVER),,SCREENING_MAIL_TRANSPORT="$${SCREENING_MAIL_TRANSPORT:-mailbox}")

# A local server on plain HTTP: a generated secret key, cookies without the Secure flag,
# links under its own address (never a visitor's Host header), e-mail as above.
run: install instance/secret_key
	SCREENING_SECRET_KEY="$$(cat instance/secret_key)" SCREENING_SESSION_COOKIE_SECURE=false \
		SCREENING_PUBLIC_URL="$${SCREENING_PUBLIC_URL:-http://127.0.0.1:$(PORT)}" \
		$(RUN_MAIL) $(VENV)/bin/flask --app app run --host 127.0.0.1 --port $(PORT)

# Production-style server (gunicorn, 2 workers on 127.0.0.1:8000 behind a reverse proxy).
# Needs SCREENING_SECRET_KEY and SCREENING_PUBLIC_URL (or SCREENING_TRUSTED_HOSTS) in the
# environment; see README "Production".
serve: install
	$(VENV)/bin/gunicorn -c gunicorn.conf.py app:app

# Browser tests drive Debian's chromium, and the Nu HTML Checker runs on Java;
# install them when they are missing.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing chromium with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@command -v java >/dev/null 2>&1 || { \
		echo "Installing Java with apt-get (for the Nu HTML Checker)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null; }

# The tests run the storage, API, practitioner, lifecycle and queue tests on PostgreSQL too, and the
# two-server check shares one Redis: each test run starts its own throwaway servers from these packages.
db-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		echo "Installing PostgreSQL with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }
	@command -v redis-server >/dev/null 2>&1 || { \
		echo "Installing Redis with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }

# tests/test_production.py checks deploy/nginx.conf with `nginx -t` (nginx is not started).
nginx-deps:
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { \
		echo "Installing nginx with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; }

# WeasyPrint (the PDFs) needs Debian's Pango; the tests read PDFs back with pdftotext.
# The font is the project's own (screening/static/fonts), so no font package is needed.
pdf-deps:
	@ldconfig -p | grep -q libpango-1.0.so.0 && ldconfig -p | grep -q libpangoft2-1.0.so.0 || { \
		echo "Installing Pango with apt-get (for WeasyPrint)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 >/dev/null; }
	@command -v pdftotext >/dev/null 2>&1 || { \
		echo "Installing poppler-utils with apt-get (pdftotext, for the PDF tests)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null; }

# wrk drives the HTTP benchmark.
bench-deps:
	@command -v wrk >/dev/null 2>&1 || { \
		echo "Installing wrk with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

# Every benchmark prints its figures beside a baseline measured in the same run (see BENCHMARKS.md).
# granian, measured beside gunicorn by bench.server_model, is a bench-only extra.
$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed-test
	$(PY) -m pip install -q -e ".[bench]"
	touch $@

bench: install-test bench-deps db-deps $(VENV)/.installed-bench
	$(PY) -m bench.engine
	$(PY) -m bench.http_load --postgresql
	$(PY) -m bench.http_load --connections 4 --duration 5
	$(PY) -m bench.cuts --posts 150 --rounds 3 --postgresql
	$(PY) -m bench.durability --crash
	$(PY) -m bench.durability --crash --postgresql
	$(PY) -m bench.peer
	$(PY) -m bench.server_model
	$(PY) -m bench.memory
	$(PY) -m bench.queue_scale
	$(PY) -m bench.page_weight
	$(PY) -m bench.pdf

# Two gunicorn instances on one PostgreSQL and one Redis, one killed mid-load (BENCHMARKS.md);
# `make test` runs its small size (tests/test_two_servers.py).
two-servers: $(VENV)/.installed-test translations db-deps
	$(PY) -m bench.two_servers

# Lighthouse and LHC-Forms come from npm.
node-deps:
	@command -v npm >/dev/null 2>&1 || { \
		echo "Installing Node.js and npm with apt-get (for Lighthouse and LHC-Forms)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }

# Lighthouse runs on Node.js (Debian's nodejs 18 is enough for 12.x); it goes into .lighthouse/
# (git-ignored), pinned, so every run audits with the same version.
LIGHTHOUSE_VERSION := 12.8.2
.lighthouse/.installed-$(LIGHTHOUSE_VERSION): | node-deps
	npm install --prefix .lighthouse --no-save --no-audit --no-fund --loglevel=error lighthouse@$(LIGHTHOUSE_VERSION)
	touch $@

lighthouse-deps: .lighthouse/.installed-$(LIGHTHOUSE_VERSION)

# tests/browser/test_lforms.py renders the FHIR Questionnaire in a real client, LHC-Forms (npm lforms),
# pinned by the lock file beside it and installed there (git-ignored) when missing or when the lock
# changes. Only its built files are loaded, so no install script runs.
LFORMS := tests/browser/lforms
$(LFORMS)/node_modules/.installed: $(LFORMS)/package.json $(LFORMS)/package-lock.json | node-deps
	npm ci --prefix $(LFORMS) --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

lforms-deps: $(LFORMS)/node_modules/.installed

# Lighthouse (mobile) on /, /screening and a result page: the median of 5 runs per page must be
# 1.0 in every category (5 to 10 minutes; not part of `make test`, see BENCHMARKS.md).
lighthouse: install-test browser-deps lighthouse-deps
	$(PY) -m bench.lighthouse

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: install-test lint
	$(VENV)/bin/pytest -q -n 2

# The quick loop while working: no browser, no Nu checker, fuzzing or gunicorn
# durability runs (markers in pyproject.toml), so no chromium or Java needed;
# `make test` still runs them all.
test-fast: $(VENV)/.installed-test translations pdf-deps db-deps nginx-deps
	$(VENV)/bin/pytest -q -n 2 -m "not browser and not slow"

# Every test (but the browser's) with PostgreSQL behind the app, not only the modules that
# `make test` runs on both backends; tests about SQLite's own files stay on SQLite (sqlite_only).
test-postgresql: $(VENV)/.installed-test translations pdf-deps db-deps nginx-deps
	SCREENING_TEST_BACKEND=postgresql $(VENV)/bin/pytest -q -n 2 -m "not browser"

clean:
	rm -rf $(VENV) instance/secret_key .lighthouse
