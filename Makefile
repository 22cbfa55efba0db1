# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.installed-runtime
TEST_STAMP := $(VENV)/.installed-test
BENCH_STAMP := $(VENV)/.installed-bench
# thumbor, the benchmarks' peer, pins an older Pillow: it gets a venv of its own.
THUMBOR_VENV ?= .venv-thumbor
THUMBOR_STAMP := $(THUMBOR_VENV)/.installed

.PHONY: install install-test install-bench run worker test screenshots bench lint format clean

install: $(RUNTIME_STAMP)

$(RUNTIME_STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

install-test: $(TEST_STAMP)

$(TEST_STAMP): $(RUNTIME_STAMP) requirements-test.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

install-bench: $(BENCH_STAMP) $(THUMBOR_STAMP)

$(BENCH_STAMP): $(TEST_STAMP) requirements-bench.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	touch $@

$(THUMBOR_STAMP): requirements-thumbor.txt
	test -x $(THUMBOR_VENV)/bin/python || $(PYTHON) -m venv $(THUMBOR_VENV)
	$(THUMBOR_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-thumbor.txt
	touch $@

run: install
	$(BIN)/flask --app image_repo db upgrade
	$(BIN)/gunicorn --config gunicorn.conf.py

# A Celery worker for generation jobs; needs CELERY_BROKER_URL (and the same
# DATABASE_URL and FILE_STORAGE_LOCATION as the web servers).
worker: install
	$(BIN)/flask --app image_repo db upgrade
	$(BIN)/celery -A image_repo.worker worker --loglevel=INFO

# The whole suite, once on SQLite and once on MySQL/MariaDB.
# REQUIRE_MYSQL=1 turns an unreachable MySQL into a failure instead of a skip.
# TEST_WORKERS test files run at once (pytest-xdist): much of the suite waits
# on servers it starts, so two workers halve the time even on two cores.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile
test: install-test
	$(PYTEST) --db=sqlite
	$(PYTEST) --db=mysql

# The README's pictures of the gallery and an image page, from the browser tests
# (needs Chromium, as the browser tests do).
screenshots: install-test
	SCREENSHOT_DIR=docs $(BIN)/pytest -q tests/browser/test_layout.py -k fit

# One table: every figure as a ratio against a baseline measured in the same
# run. Needs wrk (Debian/Ubuntu: apt-get install wrk) and the MySQL of `make test`.
bench: install-bench
	cd bench && $(abspath $(BIN))/python run.py

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(THUMBOR_VENV) .pytest_cache .ruff_cache
