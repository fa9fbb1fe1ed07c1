"""Circuit switching through the controller: a reservation holds its rate against a best-effort flood, an
excessive request is refused with the reason, teardown frees capacity, a link failure tears circuits down, a
restarted controller keeps them, and they carry IPv6 as well as IPv4."""
import re
import subprocess
import time

import pytest

from testbed.control.flows import COOKIE_CIRCUIT
from testbed.measure.probes import udp_probe
from testbed.network.net import running
from topologies.control import BottleneckTopo

RESERVED = 4e6
PACKET = 1000                                 # UDP payload; 1042 bytes on the wire
RATE_PPS = int(RESERVED / (8 * (PACKET + 42)))  # the circuit's traffic at its reserved rate (wire bytes)


def flood(net, seconds):
    """Best effort: h2 -> h4 UDP at twice the bottleneck (iperf3), bounded in time."""
    server = net['h4'].popen(['iperf3', '-s', '-1'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    client = net['h2'].popen(['iperf3', '-c', net['h4'].IP(), '-u', '-b', '20M', '-l', '1200', '-t', str(seconds)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    return server, client


def test_circuit_holds_its_rate_against_a_flood_and_admission_is_enforced():
    with running(BottleneckTopo(bw=10), controller='router') as net:
        controller = net.controllers[0]
        server, client = flood(net, 16)
        try:
            unreserved = udp_probe(net['h1'], net['h3'], packets=RATE_PPS * 4, rate=RATE_PPS, size=PACKET)
            circuit = controller.api.reserve('h1', 'h3', RESERVED)
            refused = controller.api.reserve('h2', 'h4', 7e6)
            reserved = udp_probe(net['h1'], net['h3'], packets=RATE_PPS * 4, rate=RATE_PPS, size=PACKET)
        finally:
            client.wait(30)
            server.wait(30)
        freed = controller.api.teardown(circuit[1]["id"])
        admitted_after = controller.api.reserve('h2', 'h4', 7e6)
    got = 100 - reserved['loss_percent']
    print(f'4 Mb/s stream under a 20 Mb/s best-effort flood of a 10 Mb/s link: {100 - unreserved["loss_percent"]:.1f} %'
          f' delivered without a circuit, {got:.1f} % with a 4 Mb/s circuit (expected >= 95 %); '
          f'7 Mb/s request: {refused}; after teardown: {admitted_after[0]}')
    assert circuit[0] == 200 and circuit[1]['path'] == ['s1', 's2']
    assert got >= 95.0
    assert refused[0] == 409 and 's1-s2 has 6 Mb/s unreserved' in refused[1]['error']
    assert freed[0] == 200 and admitted_after[0] == 200


@pytest.mark.host_only("the controller's teardown; the VM sees port-down events on the kernel datapath in the ring "
                        'failover test')
def test_link_failure_tears_down_circuits():
    with running(BottleneckTopo(bw=10), controller='router') as net:
        controller = net.controllers[0]
        circuit = controller.api.reserve('h1', 'h3', RESERVED)
        net.configLinkStatus('s1', 's2', 'down')
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and controller.api.circuits()['circuits']:
            time.sleep(0.1)
        left = controller.api.circuits()['circuits']
        timeline = controller.api.timeline()
    torn = [entry for entry in timeline if entry.get('circuits_torn_down')]
    print(f'circuit {circuit[1]["id"]} after the link failed: {left or "torn down"}; timeline: {torn}')
    assert left == [] and torn and torn[-1]['circuits_torn_down'] == [circuit[1]['id']]


@pytest.mark.host_only('the controller keeps the circuits; the VM checks the kernel datapath across a restart in '
                        'test_controller_restart_keeps_forwarding and the circuit meter in the flood test')
def test_a_restarted_controller_keeps_the_circuits():
    with running(BottleneckTopo(bw=10), controller='router') as net:
        controller = net.controllers[0]
        circuit = controller.api.reserve('h1', 'h3', RESERVED)[1]
        controller.stop_process()
        controller.start()
        controller.wait_ready()
        kept = controller.api.circuits()
        refused = controller.api.reserve('h2', 'h4', 7e6)
        held = udp_probe(net['h1'], net['h3'], packets=RATE_PPS * 2, rate=RATE_PPS, size=PACKET)
        new = controller.api.reserve('h2', 'h4', 1e6)[1]
    print(f'after a restart: {kept["circuits"]}; 7 Mb/s request: {refused}; circuit traffic lost '
          f'{held["loss_percent"]:.1f} %; next id {new["id"]}')
    assert [c['id'] for c in kept['circuits']] == [circuit['id']]
    assert refused[0] == 409 and '6 Mb/s unreserved' in refused[1]['error']
    assert held['loss_percent'] < 1 and new['id'] == circuit['id'] + 1


@pytest.mark.host_only('the same circuit entries for IPv6; the VM checks the circuit meter in the flood test')
def test_circuits_carry_ipv6_too():
    with running(BottleneckTopo(bw=10), controller='router') as net:
        controller = net.controllers[0]
        circuit = controller.api.reserve('h1', 'h3', RESERVED)[1]
        h3_v6 = net['h3'].params['ip6'].split('/')[0]
        net['h1'].cmd(f'ping -6 -n -c 5 -i 0.05 -q {h3_v6}')
        time.sleep(1.2)  # OVS folds datapath counters into flow statistics about once a second
        dump = subprocess.run(['ovs-ofctl', '-O', 'OpenFlow13', 'dump-flows', 's1',
                               f'cookie={COOKIE_CIRCUIT + circuit["id"]:#x}/-1'],
                              capture_output=True, text=True).stdout
    print(dump)
    ipv6 = [line for line in dump.splitlines() if 'ipv6' in line]
    assert ipv6 and int(re.search(r'n_packets=(\d+)', ipv6[0]).group(1)) >= 5
    assert any('ip,' in line or 'nw_src' in line for line in dump.splitlines())  # the IPv4 entry too
