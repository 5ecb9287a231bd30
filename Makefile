# Commands for a fresh machine with Python 3.11 and pip:
#   make repro            set up .venv and run the whole DVC pipeline
#   make test             set up .venv and run the test suite
#   make test-fast        the test suite without the end-to-end runs of the pipeline (under a minute)
#   make reproduce-small  set up .venv and run the pipeline with profiles/small.yaml in a scratch copy, checking every output
#   make verify           rerun the committed pipeline in a clean copy: dvc.lock and metrics must be the committed ones
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: repro test test-fast reproduce-small verify setup clean-venv

setup: $(STAMP)

# Reinstall when the dependencies change; the package itself is installed editable.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11'"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

repro: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

# The 10 slowest tests are listed at the end. One process: two pytest-xdist workers made the unit tests
# slower on 2 cores (79 s against 48 s); the end-to-end half with workers is not measured yet.
test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest --durations 10 $(PYTEST_ARGS)

test-fast: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -m "not slow" --durations 10 $(PYTEST_ARGS)

# WORKDIR: where the scratch copy goes (must not exist yet, or be empty)
WORKDIR ?= $(shell mktemp -d)/ganyard
reproduce-small: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m ganyard.reproduce --profile profiles/small.yaml --workdir $(WORKDIR)

verify: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m ganyard.verify --workdir $(WORKDIR)

clean-venv:
	rm -rf $(VENV)
