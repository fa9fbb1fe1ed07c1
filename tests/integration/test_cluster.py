"""Servers for a cluster run, on this machine: fake servers reached only by ssh, each with its own Open vSwitch and
run state; the doctor against them; and their cleanup after SIGKILL, with foreign objects left alone."""
import json
import os
import signal
import subprocess
import sys

import pytest

from testbed.cluster.fake import BRIDGE, FakeCluster
from testbed.cluster.remote import run_on
from tests.integration.commands import start_testbed, wait_for_line

pytestmark = pytest.mark.host_only('namespaces, sshd and Open vSwitch: nothing of the kernel path')
FOREIGN_BRIDGE, FOREIGN_NETNS = 'tbforeign1', 'tbforeign1'
UNREACHABLE = '198.51.100.30'  # on the fake servers' network, but no server


def leftovers():
    """What of a fake cluster exists in this root namespace: the bridge, veths, sshd or ovs processes in one."""
    found = [name for name in os.listdir('/sys/class/net') if name == BRIDGE or name.startswith('tbsrv')]
    mine = os.readlink('/proc/self/ns/net')
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            comm = open(f'/proc/{pid}/comm').read().strip()
            foreign_ns = os.readlink(f'/proc/{pid}/ns/net') != mine
        except OSError:
            continue
        if foreign_ns and comm in ('sshd', 'ovsdb-server', 'ovs-vswitchd', 'sleep'):
            found.append(f'{comm} (pid {pid})')
    return found


@pytest.fixture
def cluster():
    with FakeCluster(2) as fake, fake.reachable():
        yield fake
    assert leftovers() == []


def test_each_fake_server_answers_ssh_with_its_own_switch_and_run_state(cluster):
    first, second = cluster.addresses
    root_bridges = subprocess.run(['ovs-vsctl', 'list-br'], capture_output=True, text=True).stdout.split()
    for address in cluster.addresses:
        done = run_on(address, ['sh', '-c', 'hostname -I; ovs-vsctl add-br tbprobe0 -- set bridge tbprobe0 '
                                'datapath_type=netdev && ovs-vsctl list-br; ls -A /run/testbed | wc -l'])
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == [address, 'tbprobe0', '0']
    assert subprocess.run(['ovs-vsctl', 'list-br'], capture_output=True, text=True).stdout.split() == root_bridges
    hop = run_on(first, ['ssh', second, 'hostname -I'])  # server to server, as the cluster edition's tunnels do
    assert hop.returncode == 0 and hop.stdout.split() == [second], hop.stderr


def test_the_doctor_passes_the_fake_servers_and_says_what_to_fix_for_a_missing_one(cluster):
    done = subprocess.run([sys.executable, '-m', 'testbed', 'cluster', 'doctor', *cluster.addresses, UNREACHABLE],
                          capture_output=True, text=True, timeout=60)
    print(done.stdout)
    assert done.returncode == 1
    for address in cluster.addresses:
        assert sum(line.startswith(f'ok    {address}:') for line in done.stdout.splitlines()) == 7
    assert f'FAIL  {UNREACHABLE}: ssh in batch mode' in done.stdout
    assert f'- {UNREACHABLE}: make the server reachable by ssh' in done.stdout


def test_a_fake_cluster_killed_with_sigkill_is_cleaned_and_foreign_objects_survive():
    subprocess.run(['ovs-vsctl', '--may-exist', 'add-br', FOREIGN_BRIDGE, '--', 'set', 'bridge', FOREIGN_BRIDGE,
                    'datapath_type=netdev'], check=True)
    subprocess.run(['ip', 'netns', 'add', FOREIGN_NETNS], check=True)
    try:
        proc = start_testbed('cluster', 'fake', '--servers', '3')
        wait_for_line(proc, 'Ctrl-C stops them', timeout=60)
        assert BRIDGE in os.listdir('/sys/class/net')
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert leftovers()  # a SIGKILL leaves the servers up ...
        done = subprocess.run([sys.executable, '-m', 'testbed', 'clean'], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert leftovers() == []  # ... until testbed clean
        assert FOREIGN_BRIDGE in subprocess.run(['ovs-vsctl', 'list-br'], capture_output=True, text=True).stdout
        assert FOREIGN_NETNS in subprocess.run(['ip', 'netns', 'list'], capture_output=True, text=True).stdout
    finally:
        subprocess.run(['ovs-vsctl', '--if-exists', 'del-br', FOREIGN_BRIDGE])
        subprocess.run(['ip', 'netns', 'del', FOREIGN_NETNS])


def test_ctrl_c_stops_a_fake_cluster_with_nothing_left():
    proc = start_testbed('cluster', 'fake')
    wait_for_line(proc, 'Ctrl-C stops them', timeout=60)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    assert leftovers() == []


def test_a_second_fake_cluster_is_refused_in_one_line(cluster):
    done = subprocess.run([sys.executable, '-m', 'testbed', 'cluster', 'fake'], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        f'testbed: error: fake cluster: one is up already (bridge {BRIDGE}); stop it, or run testbed clean if its '
        'owner was killed']


def test_an_impossible_number_of_fake_servers_is_refused_in_one_line():
    done = subprocess.run([sys.executable, '-m', 'testbed', 'cluster', 'fake', '--servers', '9'], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        'testbed: error: fake cluster: 9 fake servers: 1 to 8 fit this plan']
    assert leftovers() == []


def test_the_agent_answers_a_malformed_request_and_still_removes_what_it_recorded(tmp_path):
    """The agent on a server (testbed.cluster.agent), run here: a bad line gets one error answer, never the end of
    the records; at its input's end it removes what it recorded (a process) and its run directory."""
    env = dict(os.environ, TESTBED_RUN_ROOT=str(tmp_path))
    agent = subprocess.Popen([sys.executable, '-m', 'testbed.cluster.agent', 'test'], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=env)
    sleeper = subprocess.Popen(['sleep', '60'])
    try:
        assert 'run' in json.loads(agent.stdout.readline())
        answers = []
        for line in ('not json', '{"mystery": 1}', json.dumps({'process': sleeper.pid, 'what': 'a sleeper'})):
            agent.stdin.write(line + '\n')
            agent.stdin.flush()
            answers.append(json.loads(agent.stdout.readline()))
        assert [sorted(answer) for answer in answers] == [['error'], ['error'], ['ok']]
        assert answers[1]['error'] == "ValueError: unknown request ['mystery']"
        agent.stdin.close()
        assert json.loads(agent.stdout.readline()) == {'left': []}
        assert agent.wait(timeout=10) == 0
        assert sleeper.wait(timeout=5) == -signal.SIGTERM
        assert os.listdir(tmp_path) == []
    finally:
        sleeper.kill()
        agent.kill()


def test_setup_makes_sshd_permit_tunnels_and_leaves_a_ready_server_alone(cluster):
    first, second = cluster.addresses
    off = "sed -i 's/^PermitTunnel yes/PermitTunnel no/' /etc/ssh/sshd_config && kill -HUP $(cat /run/sshd.pid)"
    assert run_on(first, ['sh', '-c', off]).returncode == 0
    assert 'permittunnel no' in run_on(first, ['sshd', '-T']).stdout
    done = subprocess.run([sys.executable, '-m', 'testbed', 'cluster', 'setup', first, second], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f'{first}: sshd permits tunnels (set now, sshd reloaded)' in done.stdout
    assert f'{second}: sshd permits tunnels\n' in done.stdout
    assert 'every server is ready for a cluster run' in done.stdout
    assert 'permittunnel yes' in run_on(first, ['sshd', '-T']).stdout
    # an Ethernet tunnel from the other server now comes up (ssh holds it open until it is killed, as the cluster
    # edition's tunnels are); with tunnels off, ExitOnForwardFailure ends it at once, before the command
    tunnel = run_on(second, ['timeout', '5', 'ssh', '-o', 'Tunnel=ethernet', '-o', 'ExitOnForwardFailure=yes', '-w',
                             '4321:4321', first, 'sleep 1; ip -br link show tap4321'])
    assert tunnel.stdout.startswith('tap4321'), tunnel.stderr
