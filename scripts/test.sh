#!/usr/bin/env bash
# The README's test command (`sudo make test`): every data-plane path, on every machine.
#   stage 1  the host suite (tests/unit, tests/integration) on the paths this kernel offers;
#   stage 2  the other path: on a kernel without netem/sit/openvswitch, the VM stage (the kernel path on a stock
#            Debian kernel under QEMU); on a full kernel, the integration tests again with the userspace
#            fallbacks forced (TESTBED_PATH=userspace).
# TESTBED_TEST_FAST=1 (make test-fast) stops after stage 1. TESTBED_VM_SUITE=smoke|full (make test VM_SUITE=...)
# picks the VM stage's guest tests. Extra arguments go to stage 1's pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

paths=$($PY -c 'from testbed.system.probe import FEATURES, current_plan as p; q = p(); print(" ".join(f"{f}={q.path(f)}" for f in FEATURES))')
echo "== lint: ruff and mypy (pyproject.toml)"
$PY -m ruff check . && $PY -m mypy
lint=$?
echo "== stage 1: host suite, paths on this kernel: $paths"
$PY -m pytest tests "$@"
stage1=$?

if [ "${TESTBED_TEST_FAST:-0}" = 1 ]; then
    echo "== stage 2 skipped (make test-fast): only the paths above were tested"
    [ "$lint" = 0 ] && exit $stage1 || exit $lint
fi

full=$($PY -c 'from testbed.system.probe import probe; c = probe(); print(int(all(c.has(m) for m in ("sch_netem", "sit", "openvswitch"))))')
if [ "$full" = 1 ]; then
    what="userspace fallbacks forced on this full kernel"
    echo "== stage 2: $what (TESTBED_PATH=userspace)"
    TESTBED_PATH=userspace $PY -m pytest tests/integration -q -k "not kernel"
    stage2=$?
else
    suite=${TESTBED_VM_SUITE:-smoke}
    what="VM stage ($suite suite): kernel path on a stock Debian kernel under QEMU"
    echo "== stage 2: $what"
    $PY -m testbed vm test --suite "$suite"
    stage2=$?
fi

verdict() { [ "$1" = 0 ] && echo passed || echo "FAILED (exit $1)"; }
echo "== summary"
echo "   lint (ruff, mypy): $(verdict $lint)"
echo "   stage 1 (host: $paths): $(verdict $stage1)"
echo "   stage 2 ($what): $(verdict $stage2)"
[ "$lint" = 0 ] && [ "$stage1" = 0 ] && [ "$stage2" = 0 ]
