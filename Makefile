# The testbed's two commands, and a few more.
#   sudo make demo   - set the machine up (first time: a few minutes), then run the main job with a report
#   sudo make test   - set the machine up, then run the whole test suite
# As root (CI) no sudo is needed. Every target first runs the idempotent scripts/setup.sh.

SHELL := /bin/bash
PY := .venv/bin/python
PYTEST_ARGS ?=
# The VM stage's guest suite: smoke (each kernel feature once, < 5 min warm) or full (every kernel-path test; CI).
VM_SUITE ?= smoke
# The VM stage's guest release for make test-vm: bookworm (Debian 12, the default) or trixie (Debian 13).
VM_RELEASE ?= bookworm

.PHONY: setup setup-vm demo test test-fast test-unit test-vm test-vagrant lint bench doctor clean

setup:
	@bash scripts/setup.sh

setup-vm:
	@bash scripts/setup.sh --with-vm

demo: setup
	$(PY) -m testbed demo

# Every path: the host suite, then the VM stage (kernel path) or a forced-userspace pass (see scripts/test.sh).
test: setup-vm
	TESTBED_VM_SUITE=$(VM_SUITE) bash scripts/test.sh $(PYTEST_ARGS)

# Quick iteration: the host suite only (the paths this kernel offers).
test-fast: setup
	TESTBED_TEST_FAST=1 bash scripts/test.sh $(PYTEST_ARGS)

# The VM stage alone.
test-vm: setup-vm
	$(PY) -m testbed vm test --suite $(VM_SUITE) --release $(VM_RELEASE)

# The Vagrant box for real: vagrant up with vagrant/Vagrantfile (vagrant-libvirt, QEMU), make demo inside it on
# the kernel path, the web view's forwarded port, vagrant destroy. Slow under software emulation (see README).
test-vagrant: setup
	@bash scripts/setup.sh --with-vagrant
	$(PY) -m testbed vm vagrant

test-unit:
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

# Style (ruff, configured in pyproject.toml); make test runs it too. The layer rule is a unit test
# (tests/unit/test_layers.py).
lint: setup
	$(PY) -m ruff check .
	$(PY) -m mypy

bench: setup
	$(PY) -m testbed bench links

doctor: setup
	$(PY) -m testbed doctor

clean:
	$(PY) -m testbed clean
