"""Scoped cleanup: a normal stop, Ctrl-C/SIGTERM and SIGKILL leave nothing of the testbed's behind, and never
touch a foreign bridge, namespace or process. Also the bad inputs that need a live Open vSwitch."""
import os
import signal
import subprocess
import sys
import threading

import pytest

from testbed.network.net import running
from tests.integration.commands import start_testbed, wait_for_line
from testbed.system.probe import probe
from testbed.system.runstate import list_runs, process_state, read_records, run_root
from topologies.basic import LinearTopo

FOREIGN_BRIDGE, FOREIGN_NETNS = 'tbforeign0', 'tbforeign'


def bridges():
    return set(subprocess.run(['ovs-vsctl', 'list-br'], capture_output=True, text=True).stdout.split())


def root_interfaces():
    return set(os.listdir('/sys/class/net'))


def alive(pid):
    """Running (not exited, not a zombie waiting to be reaped)."""
    return process_state(pid) not in (None, 'Z', 'X')


@pytest.fixture
def foreign():
    """A bridge, a namespace and a process that belong to someone else: they must survive."""
    datapath = [] if probe().has('openvswitch') else ['--', 'set', 'bridge', FOREIGN_BRIDGE,
                                                       'datapath_type=netdev']
    subprocess.run(['ovs-vsctl', '--may-exist', 'add-br', FOREIGN_BRIDGE, *datapath], check=True)
    subprocess.run(['ip', 'netns', 'add', FOREIGN_NETNS], check=True)
    process = subprocess.Popen(['ip', 'netns', 'exec', FOREIGN_NETNS, 'sleep', '300'])
    try:
        yield process
        assert FOREIGN_BRIDGE in bridges(), 'the foreign bridge was deleted'
        assert FOREIGN_NETNS in subprocess.run(['ip', 'netns', 'list'], capture_output=True, text=True).stdout
        assert process.poll() is None, 'the foreign process was killed'
    finally:
        process.kill()
        process.wait()
        subprocess.run(['ip', 'netns', 'del', FOREIGN_NETNS])
        subprocess.run(['ovs-vsctl', '--if-exists', 'del-br', FOREIGN_BRIDGE])


def our_runs():
    return {run_id for run_id, _dir, _alive in list_runs()}


def recorded_processes(run_id):
    records = read_records(os.path.join(run_root(), run_id))
    return [r['pid'] for r in records if r['kind'] == 'process']


@pytest.mark.smoke
def test_normal_stop_leaves_nothing():
    before_bridges, before_intfs = bridges(), root_interfaces()
    with running(LinearTopo(n=3, delay='2ms')) as net:
        run_id, pids = net.run.id, recorded_processes(net.run.id)
        assert {'s1', 's2', 's3'} <= bridges()
    assert run_id not in our_runs()
    assert bridges() == before_bridges and root_interfaces() == before_intfs
    assert not [pid for pid in pids if alive(pid)]


@pytest.mark.parametrize('sig', [
    pytest.param(signal.SIGINT, marks=pytest.mark.host_only('unwinds like SIGTERM, which the VM stage runs')),
    signal.SIGTERM])
def test_interrupted_run_stops_cleanly(sig):
    before_bridges, before_intfs, before_runs = bridges(), root_interfaces(), our_runs()
    proc = start_testbed('run', 'linear', '--param', 'n=2', '--param', 'delay=2ms')
    wait_for_line(proc, 'network up')
    run_id = (our_runs() - before_runs).pop()
    pids = recorded_processes(run_id)
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == 128 + sig
    assert run_id not in our_runs()
    assert bridges() == before_bridges and root_interfaces() == before_intfs
    assert not [pid for pid in pids if alive(pid)]


def test_ctrl_c_during_a_host_command_through_the_python_api():
    """The API's ``running()`` stops the network whatever the block was doing when Ctrl-C came (here: pingall on
    100 ms links, which Mininet waits for inside a node's shell)."""
    before_bridges, before_intfs, before_runs = bridges(), root_interfaces(), our_runs()
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    with pytest.raises(KeyboardInterrupt):
        with running(LinearTopo(n=4, delay='100ms')) as net:
            run_id = net.run.id
            timer.start()
            net.pingAll()
    timer.join()
    assert our_runs() == before_runs, f'run {run_id} left its record'
    assert bridges() == before_bridges and root_interfaces() == before_intfs


def test_sigkill_then_clean_removes_exactly_the_run(foreign):
    before_bridges, before_intfs, before_runs = bridges(), root_interfaces(), our_runs()
    proc = start_testbed('run', 'linear', '--param', 'n=2', '--param', 'delay=2ms')
    wait_for_line(proc, 'network up')
    run_id = (our_runs() - before_runs).pop()
    records = read_records(os.path.join(run_root(), run_id))
    host_shell = next(r['pid'] for r in records if r['kind'] == 'process' and r['what'] == 'host h1')
    # A process a user started inside a host (say an iperf3 server): not the testbed's child, but in its namespace.
    straggler = subprocess.Popen(['nsenter', f'--net=/proc/{host_shell}/ns/net', 'sleep', '300'])
    proc.kill()
    proc.wait()
    try:
        assert {'s1', 's2'} <= bridges(), 'bridges should outlive a SIGKILLed run until testbed clean'
        cleaner = subprocess.run([sys.executable, '-m', 'testbed', 'clean', '--list'],
                                 capture_output=True, text=True)
        assert f'{run_id}  dead' in cleaner.stdout
        cleaner = subprocess.run([sys.executable, '-m', 'testbed', 'clean'], capture_output=True, text=True)
        assert cleaner.returncode == 0, cleaner.stderr
        print(cleaner.stdout.strip())
        assert straggler.wait(timeout=10) is not None, 'a process in a testbed namespace survived clean'
        assert run_id not in our_runs()
        assert bridges() == before_bridges, f'left bridges: {bridges() - before_bridges}'
        assert root_interfaces() == before_intfs, f'left interfaces: {root_interfaces() - before_intfs}'
        assert not [r['pid'] for r in records if r['kind'] == 'process' and alive(r['pid'])]
    finally:
        if straggler.poll() is None:
            straggler.kill()
            straggler.wait()


def test_switch_named_like_a_foreign_bridge_is_refused(foreign):
    path = f'/tmp/tbclash-{os.getpid()}.yaml'
    with open(path, 'w') as handle:
        handle.write(f'hosts: [h1, h2]\nswitches: [{FOREIGN_BRIDGE[:10]}]\n'
                     f'links: [[h1, {FOREIGN_BRIDGE[:10]}], [h2, {FOREIGN_BRIDGE[:10]}]]\n')
    try:
        before_runs = our_runs()
        proc = start_testbed('run', path, '--test', 'none')
        _out, err = proc.communicate(timeout=60)
    finally:
        os.unlink(path)
    assert proc.returncode == 2
    lines = err.strip().splitlines()
    assert lines[-1].startswith('testbed: error: switch tbforeign0: an Open vSwitch bridge called')
    assert our_runs() == before_runs


@pytest.mark.smoke
def test_forcing_a_missing_kernel_path_is_an_error():
    if probe().has('sch_netem'):
        pytest.skip('this kernel has sch_netem: forcing the kernel path is legitimate here')
    before_runs = our_runs()
    proc = start_testbed('--path', 'kernel', 'run', 'pair', '--test', 'none')
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.strip().splitlines()[-1].startswith('testbed: error: the kernel path for delay was forced but '
                                                   'sch_netem is missing')
    assert our_runs() == before_runs
