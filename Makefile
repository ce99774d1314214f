# Every target is a one-liner over the CLI (python -m autograder); the venv is built from requirements.txt first.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
# nbgrader shells out to alembic, which lives in the venv's bin/.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

ASSIGNMENT ?=
FORCE ?=
SCHEDULER ?=
ALLOW_MISSING ?=
WAIT ?=
DEBUG ?=
ARGS := $(if $(ASSIGNMENT),--assignment $(ASSIGNMENT))
# Before the command: --debug (tracebacks) and --wait (queue behind another run on this course).
CLI := $(strip $(PY) -m autograder $(if $(DEBUG),--debug) $(if $(WAIT),--wait))

.DEFAULT_GOAL := help
N ?= 60
ZIP ?=
ID ?=
HOST ?= 127.0.0.1
PORT ?= 8000
CLIENTS ?= 100
UPLOADS ?= 300
FG_PORT ?= 8001
.PHONY: help venv browser postgres release grade similarity export collect collect-usage serve formgrader tokens test bench loadtest clean new check

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'
	@echo "  variables: ASSIGNMENT=name limits a target to one assignment; FORCE=1 rebuilds and regrades what is"
	@echo "             unchanged; ALLOW_MISSING=1 grades even when submissions are missing (see README);"
	@echo "             WAIT=1 waits for another run on this course instead of refusing; DEBUG=1 shows tracebacks;"
	@echo "             HOST=, PORT= for make serve; FG_PORT= for make formgrader (127.0.0.1:8001)"

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -qq -r requirements.txt
	touch $@

venv: $(VENV)/.installed ## create or update the project-local virtual environment

release: venv ## build release/ (student) and solutions/ from assignments/ with nbgrader (skipped when unchanged)
	$(CLI) release $(ARGS) $(if $(FORCE),--force)

grade: release ## grade every submission in submitted/ (ASSIGNMENT=name, FORCE=1 regrades all, ALLOW_MISSING=1, SCHEDULER=tcp://host:8786)
	$(CLI) grade $(ARGS) $(if $(FORCE),--force) $(if $(ALLOW_MISSING),--allow-missing) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

similarity: release ## compare every submission's code with the class's and earlier terms' (ASSIGNMENT=name): grades/<name>/similarity.html, .csv
	$(CLI) similarity $(ARGS)

new: venv ## scaffold a new assignment to start from: make new ID=name (docs/authoring.md)
	$(PY) -m autograder new "$(ID)"

check: venv ## is an assignment ready? release, reference, bare release, examples, mutation testing (ASSIGNMENT=name)
	$(PY) -m autograder check $(ARGS)

export: venv ## Gradescope results.json, Canvas CSV and grades/grades.csv from the last grading
	$(CLI) export

collect: collect-usage venv ## import an LMS zip: make collect ZIP=path ASSIGNMENT=name
	$(CLI) collect --zip "$(ZIP)" --assignment "$(ASSIGNMENT)"

collect-usage:  # before the venv: a forgotten argument is said at once
	@if [ -z "$(ZIP)" ] || [ -z "$(ASSIGNMENT)" ]; then \
	  echo "usage: make collect ZIP=path/to/bulk-download.zip ASSIGNMENT=name (assignments: $$(ls assignments | tr '\n' ' '| sed 's/ $$//'))" >&2; \
	  exit 2; fi

serve: release tokens ## the submission service on HOST:PORT (127.0.0.1:8000): uploads graded on warm lanes (SCHEDULER=tcp://host:8786)
	$(CLI) serve --host $(HOST) --port $(PORT) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

formgrader: venv ## nbgrader's formgrader on http://127.0.0.1:8001/formgrader (FG_PORT=): grade written answers by hand (make grade first)
	$(PY) -m autograder formgrader --host 127.0.0.1 --port $(FG_PORT)

tokens: venv ## sign-in tokens and links for roster.csv and the instructor, in grades/tokens.csv (mode 0600)
	$(CLI) tokens

browser: ## install Debian's chromium for the browser tests (needs root and apt)
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium)

postgres: ## install Debian's PostgreSQL server for the service's database tests (needs root and apt)
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql)

test: venv browser postgres ## run the test suite
	$(PY) -m pytest -q tests

bench: release ## N submissions (default 60) with ours and with nbgrader autograde, then ours on 50 and 500 and the similarity check on 500; checks the targets; writes bench/results.json
	$(PY) -m bench --n $(N)

loadtest: release ## the service under load on loopback: UPLOADS=300 from CLIENTS=100, against batch grade; writes bench/loadtest.json
	$(PY) -m bench.loadtest --n $(UPLOADS) --clients $(CLIENTS)

clean: ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache
