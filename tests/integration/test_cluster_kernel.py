"""A network across servers on the kernel path: the servers' own sch_netem and sit (the VM stage runs these; a
machine without them skips them with the reason).

The fake servers take netem and sit where the kernel has them (``FAKE_SERVER_KERNEL_PATHS``; their switches stay on
the userspace datapath: one openvswitch module would serve every fake server's vswitchd). Each server's agent runs the
probe there and reports its paths; a link with delay gets netem at each end's egress, the 6to4 routers and the relay
a sit device each.
"""
import time

import pytest

from testbed.cluster.fake import FakeCluster
from testbed.cluster.links import TUNNEL_IDLE_PROCESSES
from testbed.cluster.net import ClusterNet
from testbed.cluster.plan import FAKE_SERVER_KERNEL_PATHS
from testbed.measure.compare import Comparison
from testbed.measure.fidelity import compare_rtt
from testbed.measure.probes import ping_rtts, rtt_summary, tcp_goodput
from testbed.measure.theory import packet_delay_s, ping_frame
from testbed.reports.bench import GOODPUT_RANGE
from testbed.system.probe import probe
from topologies.control import GridTopo
from topologies.sixtofour import SixToFourTopo


@pytest.fixture(scope='module')
def servers():
    for module in ('sch_netem', 'sit'):
        if not probe().has(module):
            pytest.skip(f'the servers\' kernel path needs {module}: {probe().checks[module].detail} (the VM stage '
                        'runs this)')
    with FakeCluster(2, paths=FAKE_SERVER_KERNEL_PATHS) as fake, fake.reachable():
        yield fake.addresses


def rtts(net, count):
    """The summary (min, median, ...) of ``count`` pings h1 -> h2, in ms."""
    return rtt_summary(ping_rtts(net['h1'], net['h2'].IP(), count=count, interval=0.01))


def test_a_delayed_link_across_servers_with_netem_keeps_its_delay_and_rate_once(servers):
    """bw=10, delay=10ms on the link that crosses the servers: netem at each end's egress (no delay line), the RTT
    it adds and TCP within a local link's tolerances (on an emulated CPU, bounds of both: see below)."""
    emulated = probe().has('cpu_emulated')
    if not emulated:
        base_net = ClusterNet(GridTopo(rows=1, cols=2, ipv6=False), servers=servers, controller='router', user='root')
        try:
            base_net.start()
            base = rtts(base_net, 50)['median']
        finally:
            base_net.stop()
    net = ClusterNet(GridTopo(rows=1, cols=2, ipv6=False, bw=10, delay='10ms'), servers=servers, controller='router',
                     user='root')
    try:
        net.start()
        paths = {server: paths.get('delay') for server, paths in net.paths.items() if server != 'localhost'}
        crossing = next(link for link in net.links if getattr(link, 'tunnel', None))
        qdiscs = [intf.node.cmd(f'tc qdisc show dev {intf.name}') for intf in (crossing.intf1, crossing.intf2)]
        shaped = rtts(net, 100)
        goodput = tcp_goodput(net['h1'], net['h2'], seconds=5) / 1e6
        carried = crossing.describe()
    finally:
        net.stop()
    low, high = GOODPUT_RANGE
    if emulated:
        # Under an emulated CPU (the VM stage's TCG) the tunnel's ssh encrypts every frame in emulation and wakes late,
        # by as much as the host lets the emulator run. Seen: RTT added 24.8 and 26.2 ms where 20.2 is expected
        # (unshaped 3.9 to 7.7 ms); on a slower host 103 ms (unshaped 14.7), then 8.6 ms (unshaped 25.7): a median
        # from one network minus a median from another is noise there. TCP 9.45-9.58 Mb/s, once 7.59, on the slower
        # host 3.32 and 4.79. So there the checks are the bounds the emulator cannot move: the shaped path's fastest
        # ping took at least netem's two delays (the delay is there) and less than four (not doubled), TCP flows and
        # never exceeds the rate. On a real CPU a local link's tolerances apply.
        fastest = 'fastest of 100 pings h1 -> h2 over a 10 Mb/s, 10 ms link across two servers with netem'
        rtt_checks = [Comparison.at_least(fastest, shaped['min'], 2 * 10.0, 0.0, 'ms',
                                          "emulated CPU: netem's 10 ms each way are there"),
                      Comparison.at_most(fastest, shaped['min'], 4 * 10.0, 0.0, 'ms',
                                         'emulated CPU: not doubled')]
        goodput_check = Comparison.within('TCP h1 -> h2 over it', goodput, (1 + 10 * high) / 2,
                                          (10 * high - 1) / 2, 'Mb/s', 'emulated CPU: TCP flows (1 Mb/s or more) '
                                          "and never above the rate; on a real CPU a local link's range")
    else:
        one_way_ms = packet_delay_s(ping_frame(), 10e6, 0.010) * 1e3
        what = f'RTT h1 -> h2 added by a 10 Mb/s, 10 ms link across two servers with netem (unshaped {base:.3f} ms)'
        rtt_checks = [compare_rtt(what, shaped['median'] - base, [one_way_ms], idle_processes=TUNNEL_IDLE_PROCESSES)]
        goodput_check = Comparison.within('TCP h1 -> h2 over it', goodput, 10 * (low + high) / 2,
                                          10 * (high - low) / 2, 'Mb/s', 'as a local link')
    comparisons = [*rtt_checks, goodput_check]
    print(f"servers' delay paths {paths}; s1-s2: {carried}; pings over it: min {shaped['min']:.2f}, median "
          f"{shaped['median']:.2f} ms", *comparisons, sep='\n')
    assert paths == {server: 'kernel' for server in servers}
    assert carried == f'ssh tunnel {servers[0]} -> {servers[1]}, netem at each end'
    assert all('qdisc netem' in shown and 'delay 10ms' in shown for shown in qdiscs), qdiscs
    assert all(comparison.ok for comparison in comparisons), '; '.join(map(str, comparisons))


def test_the_papers_6to4_networks_across_servers_on_sit(servers):
    """Both scenarios, r1 and the relay on one server, r2 on the other, each with a sit device of its server's
    kernel: a <-> b and a <-> c ping without loss, and the kernel's counters count the tunnelled pings."""
    net = ClusterNet(SixToFourTopo(), servers=servers, controller='router', user='root', placement='roundrobin')
    try:
        net.start()
        placed = {name: net[name].server for name in ('r1', 'r2', 'relay')}
        paths = {name: net[name].tunnel_path for name in ('r1', 'r2', 'relay')}
        losses = {}
        for src, dst in (('a', 'b'), ('b', 'a'), ('a', 'c'), ('c', 'a')):
            output = net[src].cmd(f'ping -6 -n -c 5 -i 0.05 -W 2 {dst}')
            print(f'{src} -> {dst}:', output.strip().splitlines()[-2])
            losses[(src, dst)] = ' 0% packet loss' in output
        time.sleep(0.2)
        sent = {name: net[name].counters().get('encap', {}).get('sent', 0) for name in ('r1', 'r2', 'relay')}
        print(placed, paths, 'encapsulated:', sent)
    finally:
        net.stop()
    assert placed['r1'] != placed['r2'] and placed['r1'] == placed['relay']
    assert paths == {'r1': 'kernel', 'r2': 'kernel', 'relay': 'kernel'}
    assert all(losses.values()), losses
    assert all(count >= 10 for count in sent.values()), sent
