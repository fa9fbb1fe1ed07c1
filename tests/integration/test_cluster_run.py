"""A network across servers (``testbed run --cluster``) on two fake servers (testbed.cluster.fake): the routed 1 x 20
grid with the controller pings and carries TCP; a 10 Mb/s, 10 ms link across the servers adds its delay and carries
its rate once; delayed links within each server and across add their delays (the fake servers have no netem: delay
lines on the servers); a run killed with SIGKILL is cleaned on every server, foreign objects survive, bad input is
refused leaving nothing.

Regressions of the cluster edition's bugs, fixed in testbed.cluster (nodes, links): upstream typed each server's
batch of ``ovs-vsctl`` through ssh's pseudo-terminal, whose 4,095-character line cut it past 8 switches per server
(the 1 x 20 grid below has 10 on each: 5,067 characters); upstream made every tunnel as ``tap9``, which fails on a
server that has one and would take it over (a foreign ``tap9`` below survives a run with cross-server links);
upstream joined a daemon's words for the server's shell, which split its JSON argument (the 6to4 encapsulators
below start on their servers).

Cluster runs (a 1 x 6 grid with 1 ms links: delay lines on both servers) killed at random moments (SIGINT, SIGTERM
or SIGKILL while it builds, starts or runs; seeded by ``TESTBED_FAULT_SEED``, ``TESTBED_CLUSTER_FAULT_RUNS`` runs,
default 3: one per signal) and then ``testbed clean`` leave nothing on either server or here, and a foreign tap and
bridge on the servers survive."""
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from testbed.cluster.fake import FakeCluster
from testbed.cluster.links import TUNNEL_IDLE_PROCESSES
from testbed.cluster.net import ClusterNet
from testbed.cluster.remote import run_on
from testbed.errors import TestbedError
from testbed.measure.compare import Comparison
from testbed.measure.fidelity import compare_rtt
from testbed.measure.probes import ping_rtts, rtt_summary, tcp_goodput, traceroute_hops
from testbed.measure.theory import packet_delay_s, ping_frame, tcp_mss
from testbed.reports.bench import GOODPUT_RANGE
from testbed.system.runstate import run_root
from tests.integration.commands import start_testbed, wait_for_line
from testbed.network.topo import TestbedTopo
from topologies.basic import LinearTopo
from topologies.control import GridTopo
from topologies.sixtofour import SixToFourTopo
from topologies.transition import SixInFourTopo

pytestmark = pytest.mark.host_only('ssh, namespaces and Open vSwitch on the host: nothing of the kernel path')
FOREIGN_TAP, FOREIGN_BRIDGE = 'tap9', 'tbforeign2'
FAULT_RUNS = int(os.environ.get('TESTBED_CLUSTER_FAULT_RUNS', '3'))
FAULT_SEED = int(os.environ.get('TESTBED_FAULT_SEED', '1'))
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)
SIXTOFOUR_B, SIXTOFOUR_C = '2002:c633:6401:1::10', '2001:db8:c::10'   # hosts b (6to4 site 2) and c (native)
BUILD_WINDOW_S = 14.0   # a 1 x 6 grid over two fake servers is up in about 10 s: the moments cover build and run


@pytest.fixture(scope='module')
def servers():
    with FakeCluster(2) as fake, fake.reachable():
        yield fake.addresses


def state(server):
    """What a server holds: its bridges, its recorded runs, its interfaces."""
    done = run_on(server, ['sh', '-c', 'echo $(ovs-vsctl list-br); echo $(ls /run/testbed); echo $(ls /sys/class/net)'])
    assert done.returncode == 0, done.stderr
    bridges, runs, interfaces = (line.split() for line in done.stdout.splitlines())
    return {'bridges': bridges, 'runs': runs, 'interfaces': interfaces}


@pytest.fixture
def foreign(servers):
    """A tap on the first server (named as upstream's tunnels were) and a bridge on the second, not the testbed's."""
    first, second = servers
    assert run_on(first, ['ip', 'tuntap', 'add', 'dev', FOREIGN_TAP, 'mode', 'tap']).returncode == 0
    assert run_on(second, ['ovs-vsctl', 'add-br', FOREIGN_BRIDGE, '--', 'set', 'bridge', FOREIGN_BRIDGE,
                           'datapath_type=netdev']).returncode == 0
    yield
    run_on(first, ['ip', 'link', 'del', FOREIGN_TAP])
    run_on(second, ['ovs-vsctl', '--if-exists', 'del-br', FOREIGN_BRIDGE])


def assert_clean_but_foreign(servers):
    """Once the agents are done: nothing of a run on either server, nothing here, the foreign objects intact."""
    first, second = servers
    deadline = time.monotonic() + 20   # each agent removes its records once its connection is gone
    while time.monotonic() < deadline and (state(first)['runs'] or state(second)['runs']):
        time.sleep(0.5)
    assert state(first) == {'bridges': [], 'runs': [], 'interfaces': ['eth0', 'lo', FOREIGN_TAP]}
    assert state(second) == {'bridges': [FOREIGN_BRIDGE], 'runs': [],
                             'interfaces': ['eth0', 'lo', 'ovs-netdev', FOREIGN_BRIDGE]}
    everywhere = subprocess.run(['ps', '-eo', 'args='], capture_output=True, text=True).stdout.splitlines()
    # the fake servers share this machine's processes: no ssh toward them here, no node shell, agent, delay line or
    # daemon of a run on them
    assert [line for line in everywhere if (line.startswith(('ssh ', 'sudo ')) and '198.51.100.' in line)
            or 'mininet:' in line or (('testbed.' in line or '/run/testbed/' in line) and 'fake-cluster' not in line
                                      and 'pytest' not in line)] == []
    assert [run for run in os.listdir(run_root()) if not run.endswith('fake-cluster')] == []


def up_and_ping(servers, tcp=False):
    started = time.monotonic()
    net = ClusterNet(GridTopo(rows=1, cols=20, ipv6=False), servers=servers, controller='router', user='root')
    try:
        net.start()
        up = time.monotonic() - started
        placed = {server: sum(node.server == server for node in net.switches) for server in servers}
        loss = net.pingAll(timeout=2)
        goodput = tcp_goodput(net['h1'], net['h20'], seconds=2) / 1e6 if tcp else None
    finally:
        net.stop()
    return up, placed, loss, goodput


def test_twenty_switches_across_two_servers_with_the_controller_ping_without_loss(servers):
    """Also TCP from h1 to h20 across the tunnel: the hosts fill their own checksums in (on a userspace datapath
    TCP failed with 'Connection timed out' while ping worked, before the cluster run did what TestbedNet does)."""
    up_two, placed, loss, goodput = up_and_ping(servers, tcp=True)
    up_one, _, loss_one, _ = up_and_ping(servers[:1])
    print(f'1 x 20 grid, router app: two servers {placed}: up {up_two:.1f} s, pingall {loss:g} % dropped, TCP h1 -> '
          f'h20 {goodput:.1f} Mb/s; one server: up {up_one:.1f} s, pingall {loss_one:g} % dropped')
    assert placed == {servers[0]: 10, servers[1]: 10}
    assert loss == 0 and loss_one == 0
    assert goodput > 1
    for server in servers:
        assert state(server) == {'bridges': [], 'runs': [], 'interfaces': ['eth0', 'lo']}


def median_rtt(topo, servers, src, dst, count=100, **kwargs):
    """The median RTT from ``src`` to ``dst`` in ``topo`` run across ``servers``; the network's links described."""
    net = ClusterNet(topo, servers=servers, user='root', **kwargs)
    try:
        net.start()
        rtts = ping_rtts(net[src], net[dst].IP(), count=count, interval=0.01)
        return rtt_summary(rtts)['median'], net.describe_links()
    finally:
        net.stop()


def test_a_shaped_link_across_servers_keeps_its_delay_and_rate_once(servers):
    """bw=10, delay=10ms on the link that crosses the servers (s1 on one, s2 on the other), whose fake servers have
    no netem: the first server's delay line carries both directions, the tunnel's tap being its far end. The RTT it
    adds (against the same network unshaped; the ping's transmission at 10 Mb/s, then 10 ms, each way) within a local
    link's tolerance (testbed.measure.fidelity), and TCP
    h1 -> h2 within a local link's too (testbed.reports.bench.GOODPUT_RANGE: 93..102 % of bw): the tunnel neither
    loses the shaping nor adds its own. Each end's egress holds the HTB at 10 Mb/s. TCP keeps its full MSS (1448
    bytes): ssh carries whole Ethernet frames inside its own TCP stream, so the tunnel takes nothing off the MTU."""
    base, _ = median_rtt(GridTopo(rows=1, cols=2, ipv6=False), servers, 'h1', 'h2', count=50, controller='router')
    net = ClusterNet(GridTopo(rows=1, cols=2, ipv6=False, bw=10, delay='10ms'), servers=servers, controller='router',
                     user='root')
    try:
        net.start()
        crossing = next(link for link in net.links if getattr(link, 'tunnel', None))
        qdiscs = [intf.node.cmd(f'tc class show dev {intf.name}') for intf in (crossing.intf1, crossing.intf2)]
        rtt = rtt_summary(ping_rtts(net['h1'], net['h2'].IP(), count=100, interval=0.01))['median']
        goodput, report = tcp_goodput(net['h1'], net['h2'], seconds=5, report=True)
        goodput /= 1e6
        carried = crossing.describe()
    finally:
        net.stop()
    low, high = GOODPUT_RANGE
    one_way_ms = packet_delay_s(ping_frame(), 10e6, 0.010) * 1e3   # the ping's transmission at 10 Mb/s, then 10 ms
    comparisons = [compare_rtt(f'RTT h1 -> h2 added by a 10 Mb/s, 10 ms link across two servers (unshaped {base:.3f} '
                               f'ms)', rtt - base, [one_way_ms], idle_processes=TUNNEL_IDLE_PROCESSES),
                   Comparison.within('TCP h1 -> h2 over a 10 Mb/s, 10 ms link across two servers', goodput,
                                     10 * (low + high) / 2, 10 * (high - low) / 2, 'Mb/s', 'as a local link')]
    print(f's1-s2: {carried}', *comparisons, sep='\n')
    assert carried == f'ssh tunnel {servers[0]} -> {servers[1]}, delay line on {servers[0]}'
    assert all('htb 5:1 root' in shown and 'rate 10Mbit' in shown for shown in qdiscs), qdiscs
    assert report['start'].get('tcp_mss_default') == tcp_mss()   # full frames cross: the tunnel is a TCP stream
    assert all(comparison.ok for comparison in comparisons), '; '.join(map(str, comparisons))


class ThreeDelays(TestbedTopo):
    """h1 -(2 ms)- s1 -(5 ms)- s2 -(3 ms)- h2: a delayed link to a host's namespace on each server, and one across."""

    def build(self, delayed=True):
        for index, delay in ((1, '2ms'), (2, '3ms')):
            self.addSwitch(f's{index}')
            self.addHost(f'h{index}', ip=f'10.0.0.{index}/24')
            self.addLink(f'h{index}', f's{index}', delay=delay if delayed else None)
        self.addLink('s1', 's2', delay='5ms' if delayed else None)


@pytest.mark.remeasure('the difference of two medians over an ssh tunnel, within a 0.9 ms band')
def test_delayed_links_within_each_server_and_across_add_their_delays(servers):
    """Standalone switches (no controller). Each server's own delay line carries its host's link; the crossing link
    is the first server's. The RTT added h1 -> h2 within the tolerance of three local links."""
    base, _ = median_rtt(ThreeDelays(delayed=False), servers, 'h1', 'h2', count=50)
    shaped, described = median_rtt(ThreeDelays(), servers, 'h1', 'h2')
    print(*described, sep='\n')
    comparison = compare_rtt(f'RTT h1 -> h2 added by links of 2, 5 and 3 ms over two servers (unshaped {base:.3f} '
                             f'ms)', shaped - base, [2, 5, 3])
    print(comparison)
    assert [where for _, _, where in described] == [f'veth on {servers[0]}, delay line on {servers[0]}',
                                                    f'veth on {servers[1]}, delay line on {servers[1]}',
                                                    f'ssh tunnel {servers[0]} -> {servers[1]}, delay line on '
                                                    f'{servers[0]}']
    assert comparison.ok, str(comparison)


def test_the_papers_6to4_networks_with_routers_and_the_relay_on_different_servers(servers):
    """Both scenarios (SixToFourTopo) placed round-robin: r1 and the relay on one server, r2 and the DNS server on
    the other, each 6to4 interface on its own server's path (the fake servers': the userspace encapsulator), its
    files in that server's agent run. Names resolve across servers; a <-> b (6to4 to 6to4) and a <-> c (through the
    relay) ping without loss; the tunnel is one hop, as on one machine; each encapsulator's counters, read on its
    server, count the pings."""
    net = ClusterNet(SixToFourTopo(), servers=servers, controller='router', user='root', placement='roundrobin')
    try:
        net.start()
        placed = {name: net[name].server for name in ('r1', 'r2', 'relay', 'dns', 'a', 'b', 'c')}
        print(placed)
        paths = {name: net[name].tunnel_path for name in ('r1', 'r2', 'relay')}
        devices = {name: 'tun6to4' in net[name].cmd('ip -o link show tun6to4') for name in ('r1', 'r2', 'relay')}
        resolved = net['a'].cmd('getent ahostsv6 b.sixtofour.test').split()
        losses = {}
        for src, dst in (('a', 'b'), ('b', 'a'), ('a', 'c'), ('c', 'a')):
            output = net[src].cmd(f'ping -6 -n -c 5 -i 0.05 -W 2 {dst}')
            print(f'{src} -> {dst}:', output.strip().splitlines()[-2])
            losses[(src, dst)] = ' 0% packet loss' in output
        hops_b, hops_c = traceroute_hops(net['a'], SIXTOFOUR_B), traceroute_hops(net['a'], SIXTOFOUR_C)
        print('a -> b:', hops_b, 'a -> c:', hops_c)
        time.sleep(0.6)  # an encapsulator writes its counters within 0.25 s of its last packet
        sent = {name: net[name].counters().get('encap', {}).get('sent', 0) for name in ('r1', 'r2', 'relay')}
        print('encapsulated, read from each server:', sent)
    finally:
        net.stop()
    assert placed['r1'] != placed['r2'] and placed['r1'] == placed['relay'] and placed['dns'] == placed['r2']
    assert paths == {'r1': 'userspace', 'r2': 'userspace', 'relay': 'userspace'} and all(devices.values())
    assert resolved and resolved[0] == SIXTOFOUR_B, resolved
    assert all(losses.values()), losses
    assert all(count >= 10 for count in sent.values()), sent   # at least the pings each way
    assert hops_b == ['2002:c000:201:1::1', '2002:c633:6401::1', SIXTOFOUR_B]
    assert hops_c[:2] == ['2002:c000:201:1::1', '2002:c058:6301::1'] and hops_c[-1] == SIXTOFOUR_C
    for server in servers:
        assert state(server) == {'bridges': [], 'runs': [], 'interfaces': ['eth0', 'lo']}


def test_a_run_killed_with_sigkill_is_cleaned_on_every_server_and_foreign_objects_survive(servers, foreign):
    first, second = servers
    proc = start_testbed('run', 'grid', '--param', 'rows=1', '--param', 'cols=6', '--param', 'ipv6=false', '--param',
                         'delay=1ms', '--controller', '--cluster', f'{first},{second}', '--placement', 'roundrobin')
    wait_for_line(proc, 'Ctrl-C to stop')
    assert len(state(first)['bridges']) == 3 and state(first)['runs']
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    done = subprocess.run([sys.executable, '-m', 'testbed', 'clean'], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert_clean_but_foreign(servers)


def test_a_run_whose_agent_was_killed_too_is_cleaned_on_that_server_by_testbed_clean_here(servers, foreign):
    """SIGKILL to the first server's agent, then to the client: nothing there removes the run's bridges, pinned
    namespaces and taps any more. ``testbed clean`` here reads the run's server records and cleans that part there
    (``python -m testbed.cluster.agent --clean RUN`` over ssh); the second server's agent cleaned up by itself."""
    first, second = servers
    proc = start_testbed('run', 'grid', '--param', 'rows=1', '--param', 'cols=6', '--param', 'ipv6=false', '--param',
                         'delay=1ms', '--controller', '--cluster', f'{first},{second}', '--placement', 'roundrobin')
    wait_for_line(proc, 'Ctrl-C to stop')
    owner = run_on(first, ['sh', '-c', 'cat /run/testbed/*/owner.json'])
    agent = json.loads(owner.stdout)['pid']
    os.kill(agent, signal.SIGKILL)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert len(state(first)['bridges']) == 3 and state(first)['runs']   # the dead agent left its part
    done = subprocess.run([sys.executable, '-m', 'testbed', '-v', 'clean'], capture_output=True, text=True,
                          timeout=120)
    print(done.stdout)
    assert done.returncode == 0, done.stderr
    assert f'its part on {first} cleaned' in done.stdout and f'its part on {second} cleaned' in done.stdout
    assert_clean_but_foreign(servers)


def test_cluster_runs_killed_at_random_moments_leave_nothing_anywhere(servers, foreign):
    rng = random.Random(FAULT_SEED)
    first, second = servers
    for index in range(FAULT_RUNS):
        sig, moment = SIGNALS[index % len(SIGNALS)], rng.uniform(0.5, BUILD_WINDOW_S)
        proc = start_testbed('run', 'grid', '--param', 'rows=1', '--param', 'cols=6', '--param', 'ipv6=false',
                             '--param', 'delay=1ms', '--controller', '--cluster', f'{first},{second}', '--placement',
                             'roundrobin')
        time.sleep(moment)
        proc.send_signal(sig)
        code = proc.wait(timeout=60)
        print(f'run {index + 1}: {signal.Signals(sig).name} after {moment:.1f} s, exit {code}')
        if sig != signal.SIGKILL:   # a clean stop by itself: exit 130 or 143, or 0 if the build had failed
            assert code in (0, 130, 143), proc.stderr.read()
        done = subprocess.run([sys.executable, '-m', 'testbed', 'clean'], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        assert_clean_but_foreign(servers)


def test_impossible_links_unknown_placements_and_unreachable_servers_are_refused_leaving_nothing(servers):
    runs_before = set(os.listdir(run_root()))
    with pytest.raises(TestbedError, match=r'link s1-s2: bandwidth 2 Gb/s with delay/loss exceeds the userspace '):
        ClusterNet(LinearTopo(n=2, bw=2000, delay='5ms'), servers=servers)
    with pytest.raises(TestbedError, match=r'node \w+: its services \(\w+\) are not started across servers '
                                           r'yet; run this topology on one machine'):
        ClusterNet(SixInFourTopo(), servers=servers)
    with pytest.raises(TestbedError, match=r"unknown placement 'nearest'"):
        ClusterNet(LinearTopo(n=2), servers=servers, placement='nearest')
    with pytest.raises(TestbedError, match=r'cluster server 198.51.100.30: ssh in batch mode and sudo without a '
                                           r'password failed \(.+\); testbed cluster doctor 198.51.100.30 says'):
        ClusterNet(LinearTopo(n=2), servers=[servers[0], '198.51.100.30'])
    for server in servers:
        assert state(server)['runs'] == []
    assert set(os.listdir(run_root())) == runs_before
