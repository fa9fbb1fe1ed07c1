"""Integration tests: real Mininet, Open vSwitch, tc, iperf3 and ping, as root.

Tests that need a capability this machine lacks are skipped with the reason (for example the kernel delay path
on a kernel without sch_netem: the VM stage runs them there). ``delay_path`` parametrises a test over both link
paths: ``kernel`` (netem) where the probe finds sch_netem, and ``userspace`` (the delay line), forced, always.

``@pytest.mark.remeasure(reason)``: a measurement that a busy neighbour on a shared machine can move (a median over
a few probes, a best-of-three goodput) is measured afresh once if it fails (pytest-rerunfailures); the tolerance
stays, both attempts print their figures, and the summary lists the rerun (R). A real fault fails both.
"""
import os
import shutil
import signal

import pytest

from testbed.system.probe import choose_paths, probe


def pytest_collection_modifyitems(items):
    for item in items:
        if '/integration/' in str(item.fspath):
            item.add_marker(pytest.mark.root)
        if item.get_closest_marker('remeasure'):
            item.add_marker(pytest.mark.flaky(reruns=1, reruns_delay=2))


@pytest.fixture(scope='session', autouse=True)
def interruptible_children():
    """Commands the tests start must take Ctrl-C even when pytest itself was started in the background (a shell
    starts background jobs with SIGINT ignored, and an ignored signal stays ignored across exec)."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope='session', autouse=True)
def require_root_and_tools():
    from mininet.log import setLogLevel
    setLogLevel('warning')
    if os.geteuid() != 0:
        pytest.skip('integration tests need root: sudo make test')
    for tool in ('mnexec', 'ovs-vsctl', 'iperf3', 'tc', 'ethtool'):
        if not shutil.which(tool):
            pytest.skip(f'{tool} is not installed: run sudo make setup')
    if not probe().has('ovs_running'):
        pytest.skip('Open vSwitch is not running: run sudo make setup')


def pytest_generate_tests(metafunc):
    if 'delay_path' in metafunc.fixturenames:
        metafunc.parametrize('delay_path', ['kernel', 'userspace'], indirect=True)


@pytest.fixture
def delay_path(request):
    path = request.param
    if path == 'kernel' and not probe().has('sch_netem'):
        pytest.skip(f'kernel delay path: {probe().checks["sch_netem"].detail} (the VM stage tests it)')
    return path


@pytest.fixture
def plan_for():
    """The path plan with the delay feature forced to one path (other features as probed)."""
    return lambda path: choose_paths(probe(), {'delay': path})
