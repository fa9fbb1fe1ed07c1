"""Faults at random moments: SIGINT, SIGTERM or SIGKILL (then ``testbed clean``) while a network starts, while a
host command runs, while it stops, inside an experiment, and while the transition networks' daemons start (Tayga,
unbound, the tunnel broker, radvd and the ISATAP hosts' solicitations, the 6over4 daemons). After each, nothing
of the run may be left (bridges, interfaces, namespaces, processes, run directories) and the foreign objects
around it must survive: an OVS bridge, a named namespace with a process in it, a veth pair, a tap and an iperf3
server.

The moments are drawn from a seeded generator (``TESTBED_FAULT_SEED``, default 1) and the number of runs is bounded
(``TESTBED_FAULT_RUNS``, default 8: every phase once, every signal at least once); the closing figure of the
reliability work was 30 runs.
"""
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from testbed.system.probe import probe
from testbed.system.runstate import list_runs, process_state
from tests.integration.commands import WAIT_S, wait_for_line

RUNS = int(os.environ.get('TESTBED_FAULT_RUNS', '8'))
SEED = int(os.environ.get('TESTBED_FAULT_SEED', '1'))
FOREIGN = {'bridge': 'tbfbr0', 'netns': 'tbfns', 'veth': ('tbfva', 'tbfvb'), 'tap': 'tbftap'}
IPERF_PORT = 5299

# (phase, command, the progress line the moment is measured from, the window after it in seconds)
PHASES = {
    'start': (['run', 'sixtofour-sites'], 'building', 6.0),
    'host command': (['run', 'linear', '--param', 'n=4', '--param', 'delay=100ms', '--test', 'pingall'], ' up in ',
                     3.0),
    'stop': (['run', 'bottleneck', '--controller', '--param', 'delay=5ms'], ' up in ', 0.0),
    'experiment': (['experiment', 'run', 'packet-delay', '--param', 'probes=2'], 'repetition 1', 8.0),
    'translators': (['run', 'nat64'], 'building', 4.0),    # Tayga twice, unbound and dnsmasq starting
    'broker': (['run', 'broker'], 'building', 4.0),        # the broker, its encapsulators, clients asking
    'discovery': (['run', 'isatap'], 'building', 5.0),     # radvd starting, hosts soliciting it
    '6over4': (['run', '6over4'], 'building', 3.0),        # the 6over4 daemons joining their groups
}
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)


def _cases():
    rng = random.Random(SEED)
    cases = []
    for index in range(RUNS):
        phase = list(PHASES)[index % len(PHASES)]
        sig = SIGNALS[(index % len(PHASES) + index // len(PHASES)) % len(SIGNALS)]   # each phase, every signal
        cases.append(pytest.param(phase, sig, rng.random(), id=f'{index + 1}-{phase}-{sig.name}'))
    return cases


def _sh(*cmd, check=True):
    return subprocess.run(cmd, capture_output=True, text=True, check=check)


def machine_state():
    """What exists now: bridges, root interfaces, named namespaces, network namespaces in use (by a process that
    has not exited), processes."""
    namespaces = set()
    processes = set()
    for entry in os.listdir('/proc'):
        if entry.isdigit() and process_state(entry) not in (None, 'Z', 'X'):
            try:
                namespaces.add(os.stat(f'/proc/{entry}/ns/net').st_ino)
                processes.add(int(entry))
            except OSError:
                pass
    with open('/proc/self/mountinfo') as handle:
        pins = {line.split()[4] for line in handle if ' nsfs ' in line}
    return {'bridges': set(_sh('ovs-vsctl', 'list-br').stdout.split()), 'namespace pins': pins,
            'interfaces': set(os.listdir('/sys/class/net')),
            'named namespaces': set(os.listdir('/run/netns')) if os.path.isdir('/run/netns') else set(),
            'namespaces in use': namespaces, 'processes': processes,
            'runs': {run_id for run_id, _dir, _alive in list_runs()}}


ROOT_NETNS = os.stat('/proc/self/ns/net').st_ino  # the tests run in the root namespace
OURS = ('testbed', 'mnexec', 'bash --norc')  # what a run starts in the root namespace (Ryu: testbed.ryu_compat)


def _could_be_ours(pid):
    """A running process in a network namespace of its own, or one of the programs a run starts (anything else
    new on the machine meanwhile is not the testbed's business)."""
    if process_state(pid) in (None, 'Z', 'X') or pid == os.getpid():
        return False
    try:
        in_own_namespace = os.stat(f'/proc/{pid}/ns/net').st_ino != ROOT_NETNS
    except OSError:
        return False
    return in_own_namespace or any(word in _command(pid) for word in OURS)


def left_behind(before, after):
    """What ``after`` holds that ``before`` did not, kind by kind (processes: only those still running)."""
    left = {kind: sorted(after[kind] - before[kind]) for kind in before if kind != 'processes'}
    left['processes'] = [f'{pid} {_command(pid)}' for pid in sorted(after['processes'] - before['processes'])
                         if _could_be_ours(pid)]
    return {kind: items for kind, items in left.items() if items}


def settled_leftovers(before, settle_s=5.0):
    """``left_behind`` once processes that were killed have finished exiting (on an emulated CPU that can take a
    moment after the command returned): empty as soon as it is, else what is still there after ``settle_s``."""
    deadline = time.monotonic() + settle_s
    while True:
        left = left_behind(before, machine_state())
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.25)


def _command(pid):
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as handle:
            return handle.read().replace(b'\0', b' ').decode(errors='replace').strip()[:120]
    except OSError:
        return '(gone)'


@pytest.fixture(scope='module')
def foreign():
    """Objects that belong to someone else, each of a kind the testbed creates; they must all survive."""
    datapath = [] if probe().has('openvswitch') else ['--', 'set', 'bridge', FOREIGN['bridge'], 'datapath_type=netdev']
    _sh('ovs-vsctl', '--may-exist', 'add-br', FOREIGN['bridge'], *datapath)
    _sh('ip', 'netns', 'add', FOREIGN['netns'])
    _sh('ip', 'link', 'add', FOREIGN['veth'][0], 'type', 'veth', 'peer', 'name', FOREIGN['veth'][1])
    _sh('ip', 'tuntap', 'add', 'dev', FOREIGN['tap'], 'mode', 'tap')
    _sh('ip', 'netns', 'exec', FOREIGN['netns'], 'ip', 'link', 'set', 'lo', 'up')
    sleeper = subprocess.Popen(['ip', 'netns', 'exec', FOREIGN['netns'], 'sleep', '3600'])
    iperf = subprocess.Popen(['ip', 'netns', 'exec', FOREIGN['netns'], 'iperf3', '-s', '-B', '127.0.0.1', '-p',
                              str(IPERF_PORT)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    objects = {'processes': (sleeper, iperf)}
    try:
        yield objects
    finally:
        for process in objects['processes']:
            process.kill()
            process.wait()
        _sh('ip', 'link', 'del', FOREIGN['tap'], check=False)
        _sh('ip', 'link', 'del', FOREIGN['veth'][0], check=False)
        _sh('ip', 'netns', 'del', FOREIGN['netns'], check=False)
        _sh('ovs-vsctl', '--if-exists', 'del-br', FOREIGN['bridge'], check=False)


def assert_foreign_intact(foreign):
    state = machine_state()
    assert FOREIGN['bridge'] in state['bridges'], 'the foreign bridge was deleted'
    assert {FOREIGN['tap'], *FOREIGN['veth']} <= state['interfaces'], 'a foreign interface was deleted'
    assert FOREIGN['netns'] in state['named namespaces'], 'the foreign namespace was deleted'
    for process in foreign['processes']:
        assert process.poll() is None, f'a foreign process ({process.args[-4:]}) was killed'


@pytest.mark.host_only('random signals on the userspace paths; the VM stage runs a kernel-path case below')
@pytest.mark.parametrize('phase, sig, fraction', _cases())
def test_a_signal_at_a_random_moment_leaves_nothing(foreign, phase, sig, fraction):
    args, mark, window = PHASES[phase]
    before = machine_state()
    proc = subprocess.Popen([sys.executable, '-m', 'testbed', *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, cwd=os.path.dirname(os.path.dirname(
                                os.path.dirname(os.path.abspath(__file__)))))
    wait_for_line(proc, mark)
    if phase == 'stop':  # end the run, then hit it again while it stops
        proc.send_signal(signal.SIGINT)
        window = 0.5
    moment = fraction * window
    time.sleep(moment)
    proc.send_signal(sig)
    try:
        code = proc.wait(timeout=WAIT_S)
    finally:
        proc.stderr.close()
    print(f'{phase}: {sig.name} {moment:.2f} s after {mark.strip()!r}: exit {code}')
    if sig == signal.SIGKILL:
        cleaner = _sh(sys.executable, '-m', 'testbed', 'clean', check=False)
        assert cleaner.returncode == 0, cleaner.stderr
    else:
        assert code in (128 + sig, 130, 0, 1), f'exit code {code}'
    left = settled_leftovers(before)
    assert not left, f'left behind after {sig.name} during {phase}: {left}'
    assert_foreign_intact(foreign)


def test_sigterm_during_a_host_command_on_the_kernel_paths_leaves_nothing(foreign):
    """The same on whatever this kernel offers (netem, sit, the OVS kernel datapath in the VM stage)."""
    before = machine_state()
    proc = subprocess.Popen([sys.executable, '-m', 'testbed', 'run', 'linear', '--param', 'n=4', '--param',
                             'delay=100ms', '--test', 'pingall'], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    wait_for_line(proc, ' up in ')
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=WAIT_S) == 128 + signal.SIGTERM
    proc.stderr.close()
    left = settled_leftovers(before)
    assert not left, f'left behind: {left}'
    assert_foreign_intact(foreign)


@pytest.mark.host_only('names are checked before any data-plane path is set up')
def test_a_switch_named_like_a_foreign_object_is_refused(foreign, tmp_path):
    before = machine_state()
    for name in (FOREIGN['tap'], FOREIGN['veth'][0], FOREIGN['netns']):
        topology = tmp_path / f'{name}.yaml'
        topology.write_text(f'hosts: [h1, h2]\nswitches: [{name}]\nlinks: [[h1, {name}], [h2, {name}]]\n')
        shown = _sh(sys.executable, '-m', 'testbed', 'run', str(topology), '--test', 'none', check=False)
        errors = [line for line in shown.stderr.splitlines() if line.startswith('testbed: error: ')]
        assert shown.returncode == 2 and len(errors) == 1, shown.stderr
        assert errors[0].startswith(f'testbed: error: switch {name}: ') and 'already exists' in errors[0], errors[0]
    assert not settled_leftovers(before)
    assert_foreign_intact(foreign)
