# The testbed's two commands, and a few more.
#   sudo make demo   - set the machine up (first time: a few minutes), then run the main job with a report
#   sudo make test   - set the machine up, then run the whole test suite
# As root (CI) no sudo is needed. Every target first runs the idempotent scripts/setup.sh.

SHELL := /bin/bash
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: setup demo test test-fast test-unit bench doctor clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) -m testbed demo

# The host suite: unit tests (no root) and integration tests (Mininet, OVS) on the paths this kernel offers.
test: setup
	$(PY) -m pytest tests $(PYTEST_ARGS)

# Quick iteration: unit tests and the integration tests, without slower stages added by later work.
test-fast: setup
	$(PY) -m pytest tests $(PYTEST_ARGS)

test-unit:
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

bench: setup
	$(PY) -m testbed bench links

doctor: setup
	$(PY) -m testbed doctor

clean:
	$(PY) -m testbed clean
