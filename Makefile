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
.PHONY: help venv browser release grade export collect collect-usage test bench clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'
	@echo "  variables: ASSIGNMENT=name limits a target to one assignment; FORCE=1 rebuilds and regrades what is"
	@echo "             unchanged; ALLOW_MISSING=1 grades even when submissions are missing (see README);"
	@echo "             WAIT=1 waits for another run on this course instead of refusing; DEBUG=1 shows tracebacks"

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -qq -r requirements.txt
	touch $@

venv: $(VENV)/.installed ## create or update the project-local virtual environment

release: venv ## build release/ (student) and solutions/ from assignments/ with nbgrader (skipped when unchanged)
	$(CLI) release $(ARGS) $(if $(FORCE),--force)

grade: release ## grade every submission in submitted/ (ASSIGNMENT=name, FORCE=1 regrades all, ALLOW_MISSING=1, SCHEDULER=tcp://host:8786)
	$(CLI) grade $(ARGS) $(if $(FORCE),--force) $(if $(ALLOW_MISSING),--allow-missing) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

export: venv ## Gradescope results.json, Canvas CSV and grades/grades.csv from the last grading
	$(CLI) export

collect: collect-usage venv ## import an LMS zip: make collect ZIP=path ASSIGNMENT=name
	$(CLI) collect --zip "$(ZIP)" --assignment "$(ASSIGNMENT)"

collect-usage:  # before the venv: a forgotten argument is said at once
	@if [ -z "$(ZIP)" ] || [ -z "$(ASSIGNMENT)" ]; then \
	  echo "usage: make collect ZIP=path/to/bulk-download.zip ASSIGNMENT=name (assignments: $$(ls assignments | tr '\n' ' '| sed 's/ $$//'))" >&2; \
	  exit 2; fi

browser: ## install Debian's chromium for the dashboard's browser test (needs root and apt)
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium)

test: venv browser ## run the test suite
	$(PY) -m pytest -q tests

bench: release ## N submissions (default 60) with ours and with nbgrader autograde, then ours on 50 and 500; checks the targets; writes bench/results.json
	$(PY) -m bench --n $(N)

clean: ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache
