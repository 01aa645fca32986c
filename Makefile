# The two commands of the README: `make run` and `make test`. Both set up what they need
# on a fresh Debian machine (python3 with venv and pip) and are quick once it is there.

SHELL   := /bin/bash
PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.stamp
CONFIG  ?= examples/pbx.yaml
PYTEST_ARGS ?=

.PHONY: all run test lint bench clean distclean venv sipp baresip

all: test

# The virtualenv, with the project installed editable and its dev tools; pip runs again
# only when pyproject.toml is newer than the stamp (or the venv is gone).
venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# SIPp (Debian package sip-tester), needed by the end-to-end tests and the benchmark.
sipp:
	@command -v sipp >/dev/null 2>&1 || { \
	  sudo=""; \
	  if [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  echo "installing sip-tester (SIPp)"; \
	  $$sudo apt-get install -y -q sip-tester \
	    || { $$sudo apt-get update -q && $$sudo apt-get install -y -q sip-tester; }; \
	}
	@command -v sipp >/dev/null 2>&1 || { echo "sipp is still missing" >&2; exit 1; }

# baresip 1.0 (Debian package baresip-core: the binary and the modules the tests load),
# a real softphone for tests/integration/test_baresip.py.
baresip:
	@command -v baresip >/dev/null 2>&1 || { \
	  sudo=""; \
	  if [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  echo "installing baresip-core (baresip)"; \
	  $$sudo apt-get install -y -q --no-install-recommends baresip-core \
	    || { $$sudo apt-get update -q && $$sudo apt-get install -y -q --no-install-recommends baresip-core; }; \
	}
	@command -v baresip >/dev/null 2>&1 || { echo "baresip is still missing" >&2; exit 1; }

run: venv
	$(BIN)/softswitch run --config $(CONFIG)

test: venv sipp baresip
	$(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: venv sipp
	benchmarks/run_bench.sh

clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
