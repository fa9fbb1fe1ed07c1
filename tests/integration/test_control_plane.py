"""The control plane on real switches: the lecture's forwarding table, traceroute, both algorithms, failover,
controller restart, and no packet-in for routed traffic."""
import re
import subprocess
import sys
import threading
import time

import pytest

from testbed.measure.probes import traceroute_hops
from testbed.network.net import running
from testbed.control.tables import named_rows, read_switch
from testbed.system.runstate import list_runs
from topologies.control import ChainTopo, GridTopo, MeshTopo, RingTopo, StarTopo


def port_tx_packets(switch, port):
    output = subprocess.run(['ovs-ofctl', '--no-names', '-O', 'OpenFlow13', 'dump-ports', switch, str(port)],
                            capture_output=True, text=True).stdout
    return int(re.search(r'tx pkts=(\d+)', output).group(1))


# Both controller runtimes run the router app (testbed.control.ryu): Ryu 4.34, the default, and os-ken 3.x.
RUNTIMES = [pytest.param('ryu', marks=pytest.mark.smoke), 'os-ken']


@pytest.mark.parametrize('runtime', RUNTIMES)
def test_star_table_is_the_lecture_slide(runtime):
    with running(StarTopo(), controller='router', label='star', controller_runtime=runtime) as net:
        assert net.controllers[0].runtime == runtime
        rows = named_rows(net_plan(net), 's1', read_switch('s1'))
        ipv4 = {row['destination']: row['port'] for row in rows if ':' not in row['prefix']}
        print(f's1 table ({runtime}):', ipv4)
        assert ipv4 == {'src': 1, 'UCB': 2, 'NYU': 3, 'MIT': 4, 'UW': 5}
        before = {port: port_tx_packets('s1', port) for port in (2, 3, 4, 5)}
        net['src'].cmd('ping -c 20 -i 0.01 -q 10.0.2.10')  # "a packet to UCB"
        after = {port: port_tx_packets('s1', port) for port in (2, 3, 4, 5)}
        sent = {port: after[port] - before[port] for port in before}
        deadline = time.monotonic() + 5  # OVS folds datapath counters into flow statistics about once a second
        while True:
            flows = {row['destination']: row['packets']
                     for row in named_rows(net_plan(net), 's1', read_switch('s1')) if ':' not in row['prefix']}
            if flows['UCB'] >= 20 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        print('packets out of each link while pinging UCB:', sent, '; route entry counters:', flows)
        # Port counters also see the controller's LLDP probes (about one per port per second).
        assert sent[2] >= 20 and max(sent[3], sent[4], sent[5]) <= 3
        assert flows['UCB'] >= 20 and flows['NYU'] == flows['MIT'] == flows['UW'] == 0


def net_plan(net):
    import json
    with open(net.run.path('plan.json')) as handle:
        return json.load(handle)


def test_traceroute_shows_one_hop_per_switch_and_routed_traffic_skips_the_controller():
    with running(ChainTopo(n=3), controller='router') as net:
        h1 = net['h1']
        hops4 = traceroute_hops(h1, '10.0.2.10')
        hops6 = traceroute_hops(h1, '2001:db8:2::10')
        print('traceroute:', hops4, hops6)
        assert hops4 == ['10.255.0.1', '10.255.0.2', '10.255.0.3', '10.0.2.10']
        assert hops6 == ['fd00:ff::1', 'fd00:ff::2', 'fd00:ff::3', '2001:db8:2::10']
        before = net.controllers[0].api.status()['packet_ins']
        h1.cmd('ping -c 200 -i 0.005 -q 10.0.2.10; ping -6 -c 200 -i 0.005 -q 2001:db8:2::10')
        after = net.controllers[0].api.status()['packet_ins']
        print('packet-ins before/after 400 routed pings:', before, after)
        assert after == before


@pytest.mark.host_only('route computation is pure and the same on every datapath; link-state routes every other '
                        'control-plane test in the VM stage')
@pytest.mark.parametrize('algorithm', ['link-state', 'distance-vector'])
def test_both_algorithms_route_the_mesh(algorithm):
    with running(MeshTopo(), controller='router', algorithm=algorithm) as net:
        status = net.router_status
        assert net.pingAll(timeout=2) == 0
    print(f'{algorithm}: {status}')
    assert status['algorithm'] == algorithm
    assert (status['rounds'] > 0) == (algorithm == 'distance-vector')


def ping_burst(host, address, count, interval):
    """Run ping in the background; return a thread whose .result is (transmitted, received)."""
    def run():
        output = host.cmd(f'ping -n -c {count} -i {interval} -W 1 {address}')
        match = re.search(r'(\d+) packets transmitted, (\d+) received', output)
        thread.result = (int(match.group(1)), int(match.group(2))) if match else (count, 0)
    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize('runtime', [
    'ryu', pytest.param('os-ken', marks=pytest.mark.host_only('the star test runs os-ken on the kernel path'))])
def test_ring_failover_outage_and_timeline(runtime):
    interval = 0.001
    with running(RingTopo(n=6), controller='router', controller_runtime=runtime) as net:
        h1 = net['h1']
        h1.cmd('ping -c 3 -q 10.0.2.10')
        pinger = ping_burst(h1, '10.0.2.10', 3000, interval)
        time.sleep(1.0)
        net.configLinkStatus('s1', 's2', 'down')  # the link on the path: traffic must go the other way round
        pinger.join(30)
        timeline = net.controllers[0].api.timeline()
    transmitted, received = pinger.result
    outage_ms = (transmitted - received) * interval * 1000
    event = timeline[-1]
    print(f'ring failover ({runtime}): {transmitted - received} of {transmitted} pings lost at '
          f'{interval * 1000:g} ms intervals = {outage_ms:.0f} ms outage; timeline: {event["event"]}: computed +'
          f'{(event["computed"] - event["received"]) * 1000:.1f} ms, FlowMods sent +'
          f'{(event["sent"] - event["received"]) * 1000:.1f} ms, acknowledged +'
          f'{(event["acknowledged"] - event["received"]) * 1000:.1f} ms, {event["flow_mods"]} FlowMods')
    assert 'PortStatus' in event['event']
    assert outage_ms < 100


@pytest.mark.host_only('aggregation is the controller\'s choice of entries; the datapath only matches them')
def test_aggregated_tables_route_a_grid_and_reroute_around_a_failure():
    """--aggregate: s1 of a 1 x 8 grid holds one local route and three aggregates eastwards (10.0.2.0/23,
    10.0.4.0/22, 10.0.8.0/24), not seven routes; every host reaches every other, also after a failure in a 2 x 4
    grid has re-pointed aggregates."""
    with running(GridTopo(rows=1, cols=8, ipv6=False), controller='router', aggregate=True) as net:
        rows = read_switch('s1')
        assert net.pingAll(timeout=2) == 0
    print('1 x 8 grid, s1 aggregated:', rows)
    assert sorted((prefix, port) for prefix, port, _ in rows) == [
        ('10.0.1.0/24', 1), ('10.0.2.0/23', 2), ('10.0.4.0/22', 2), ('10.0.8.0/24', 2)]
    with running(GridTopo(rows=2, cols=4, ipv6=False), controller='router', aggregate=True) as net:
        before = read_switch('s1')
        net.configLinkStatus('s1', 's2', 'down')
        deadline = time.monotonic() + 10
        while read_switch('s1') == before and time.monotonic() < deadline:
            time.sleep(0.1)
        after = read_switch('s1')
        lost = net.pingAll(timeout=2)
    print('2 x 4 grid, s1 before and after s1-s2 failed:', before, after)
    assert {port for _, port, _ in after} == {1, 3}   # only its host and the way down to s5 (port 3) are left
    assert lost == 0


def test_controller_restart_keeps_forwarding():
    with running(RingTopo(n=4), controller='router') as net:
        h1 = net['h1']
        h1.cmd('ping -c 3 -q 10.0.3.10')
        tables_before = {s.name: read_switch(s.name) for s in net.switches}
        pinger = ping_burst(h1, '10.0.3.10', 600, 0.01)
        time.sleep(1.0)
        controller = net.controllers[0]
        controller.stop_process()
        time.sleep(1.0)  # the switches are alone: fail-secure keeps their tables
        controller.start()
        status = controller.wait_ready()
        pinger.join(30)
        tables_after = {s.name: read_switch(s.name) for s in net.switches}
    transmitted, received = pinger.result
    print(f'controller away (1 s + its restart) and back: {transmitted - received} of {transmitted} pings lost; '
          f'{status}')
    assert received == transmitted
    strip = lambda tables: {s: [(p, port) for p, port, _n in rows] for s, rows in tables.items()}  # noqa: E731
    assert strip(tables_after) == strip(tables_before)


@pytest.mark.host_only('waits out Ryu\'s LLDP link timeout; the VM tests the PortStatus path')
def test_silent_failure_is_found_by_lldp_timeout():
    """A link that loses everything while both ports stay up: only LLDP's silence reveals it (the slow path)."""
    with running(RingTopo(n=4, delay='1ms'), controller='router') as net:
        h1 = net['h1']
        assert '0% packet loss' in h1.cmd('ping -c 3 -i 0.2 -q 10.0.2.10')
        net.linksBetween(net['s1'], net['s2'])[0].cut()
        cut = time.monotonic()
        deadline = cut + 40
        timeline = []
        while time.monotonic() < deadline:
            timeline = net.controllers[0].api.timeline()
            if any('LLDP timeout' in entry['event'] for entry in timeline):
                break
            time.sleep(0.5)
        detected = time.monotonic() - cut
        reachable = '0% packet loss' in h1.cmd('ping -c 3 -i 0.2 -q 10.0.2.10')
    print(f'silent failure detected by LLDP timeout after {detected:.1f} s; h1 -> h2 afterwards: '
          f'{"reachable the other way round" if reachable else "UNREACHABLE"}')
    assert any('LLDP timeout' in entry['event'] for entry in timeline)
    assert reachable


def test_a_flat_network_is_refused_by_the_router_app_and_leaves_nothing():
    """``linear`` puts every host in one subnet: the router app cannot route it, and says so in one line."""
    before = {name for name, _, _ in list_runs()}
    bridges = set(subprocess.run(['ovs-vsctl', 'list-br'], capture_output=True, text=True).stdout.split())
    done = subprocess.run([sys.executable, '-m', 'testbed', 'run', 'linear', '--controller', '--test', 'pingall'],
                          capture_output=True, text=True, timeout=120)
    errors = [line for line in done.stderr.splitlines() if line.startswith('testbed: error')]
    print(done.returncode, errors)
    assert done.returncode != 0 and len(errors) == 1 and 'share the subnet 10.0.0.0/24' in errors[0]
    assert {name for name, _, _ in list_runs()} == before
    assert set(subprocess.run(['ovs-vsctl', 'list-br'], capture_output=True, text=True).stdout.split()) == bridges
