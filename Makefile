# The two commands of the README: `make run` and `make test`. Both set up what they need
# on a fresh Debian machine (python3 with venv and pip) and are quick once it is there.

SHELL   := /bin/bash
PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.stamp
CONFIG  ?= examples/pbx.yaml
PYTEST_ARGS ?=

.PHONY: all run test lint bench clean distclean venv sipp baresip rtpengine

all: test

# The virtualenv, with the project installed editable and its dev tools; pip runs again
# only when pyproject.toml is newer than the stamp (or the venv is gone).
venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# $(call apt_install,COMMAND,PACKAGE,APT-FLAGS): install a Debian package when COMMAND is
# missing (through sudo when not root), then insist that it is there.
define apt_install
	@command -v $(1) >/dev/null 2>&1 || { \
	  sudo=""; \
	  if [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  echo "installing $(2) ($(1))"; \
	  $$sudo apt-get install -y -q $(3) $(2) \
	    || { $$sudo apt-get update -q && $$sudo apt-get install -y -q $(3) $(2); }; \
	}
	@command -v $(1) >/dev/null 2>&1 || { echo "$(1) is still missing" >&2; exit 1; }
endef

# SIPp (Debian package sip-tester), needed by the end-to-end tests and the benchmark.
sipp:
	$(call apt_install,sipp,sip-tester,)

# baresip 1.0 (Debian package baresip-core: the binary and the modules the tests load),
# a real softphone for tests/integration/test_baresip.py.
baresip:
	$(call apt_install,baresip,baresip-core,--no-install-recommends)

# rtpengine (Debian package rtpengine-daemon), the media relay for scale; the tests start
# their own daemon in userspace mode on 127.0.0.1.
rtpengine:
	$(call apt_install,rtpengine,rtpengine-daemon,--no-install-recommends)

run: venv
	$(BIN)/softswitch run --config $(CONFIG)

test: venv sipp baresip rtpengine
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
