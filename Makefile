# Commands for a fresh machine with Python 3.11 and pip:
#   make repro            set up .venv and run the whole DVC pipeline
#   make test             set up .venv and run the test suite
#   make test-fast        the test suite without the end-to-end runs of the pipeline (under a minute)
#   make reproduce-small  set up .venv and run the pipeline with profiles/small.yaml in a scratch copy, checking every output
#   make verify           rerun the committed pipeline in a clean copy: dvc.lock and metrics must be the committed ones
#   make format           format the code and apply the linter's safe fixes (ruff; settings in pyproject.toml)
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: repro test test-fast reproduce-small verify format setup clean-venv

setup: $(STAMP)

# Reinstall when the dependencies change; the package itself is installed editable.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11'"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

repro: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

# Two pytest-xdist workers of one thread each (tests/conftest.py): the end-to-end tests spend most of their
# time in one-threaded Python (DVC, imports), so one process leaves a core idle. --dist loadfile keeps each
# module, whose tests may share one repository, in one worker; tests/conftest.py orders the modules longest
# first. (pytest-xdist's --dist loadgroup does not group under pytest 9.2.) The 10 slowest are listed.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations 10
test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(PYTEST) $(PYTEST_ARGS)

test-fast: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(PYTEST) -m "not slow" $(PYTEST_ARGS)

# WORKDIR: where the scratch copy goes (must not exist yet, or be empty)
WORKDIR ?= $(shell mktemp -d)/ganyard
reproduce-small: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m ganyard.reproduce --profile profiles/small.yaml --workdir $(WORKDIR)

verify: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m ganyard.verify --workdir $(WORKDIR)

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean-venv:
	rm -rf $(VENV)
