# Commands for a fresh machine with Python 3.11 and pip:
#   make repro            set up .venv and run the whole DVC pipeline
#   make test             set up .venv and run the test suite
#   make reproduce-small  set up .venv and run the pipeline with profiles/small.yaml in a scratch copy, checking every output
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: repro test reproduce-small setup clean-venv

setup: $(STAMP)

# Reinstall when the dependencies change; the package itself is installed editable.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11'"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

repro: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest $(PYTEST_ARGS)

# WORKDIR: where the scratch copy goes (must not exist yet, or be empty)
WORKDIR ?= $(shell mktemp -d)/ganyard
reproduce-small: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m ganyard.reproduce --profile profiles/small.yaml --workdir $(WORKDIR)

clean-venv:
	rm -rf $(VENV)
