"""The survey's mechanisms on real namespaces (topologies/transition.py): each network's reachability matrix as
its RFC predicts it, including the pairs that must fail, the outer header on the wire, where the traffic goes
(6rd: customer to customer without the relay), the modes' checks on crafted datagrams, and fuzzing every mode."""
import ipaddress
import os
import sys
import time

import pytest

from testbed.measure.probes import reachable
from testbed.network.capture import capture, decode_6in4
from testbed.network.net import running
from testbed.transition.nat64 import synthesize
from tests.integration.fuzzing import counters, fuzz
from topologies.transition import (NAT64_PREFIX, NATIVE_C, V4_SERVER, BrokerTopo, DualStackTopo, IsatapTopo, Nat64Topo,
                                   SixInFourTopo, SixOverFourTopo, SixRdTopo, V4CompatTopo)

# (topology, [(source node, destination address, reachable?)]) -- reachable as the mechanism's RFC says
MATRICES = {
    'dual-stack': (DualStackTopo, [('h1', '198.51.100.10', True), ('h1', '2001:db8:2::10', True),
                                   ('h2', '2001:db8:1::10', True)]),
    '6in4': (SixInFourTopo, [('a', '2001:db8:2::10', True), ('b', '2001:db8:1::10', True),
                             ('a', '198.51.100.1', False)]),   # the sites are IPv6-only: no IPv4 at all
    'v4compat': (V4CompatTopo, [('h1', '::198.51.100.10', True), ('h2', '::192.0.2.10', True),
                                ('h1', NATIVE_C, False), ('c', '::192.0.2.10', False)]),  # why it was dropped
    '6rd': (SixRdTopo, [('a', '2001:db8:6002:101::10', True), ('a', NATIVE_C, True), ('c', '2001:db8:6001:101::10',
                                                                                            True)]),
    'isatap': (IsatapTopo, [('h1', '2001:db8:5e::5efe:a00:3', True), ('h1', NATIVE_C, True),
                            ('c', '2001:db8:5e::5efe:a00:2', True),
                            ('h3', NATIVE_C, False)]),   # no router answered its solicitations: no prefix, no route
    'broker': (BrokerTopo, [('c1', NATIVE_C, True), ('c', '2001:db8:b200::1', True),   # c1's site, via tb
                            ('c1', '2001:db8:b1:1::2', True)]),                           # c2, via tb
    '6over4': (SixOverFourTopo, [('h1', '2001:db8:6:4::c000:20b', True), ('h1', NATIVE_C, True),
                                 ('c', '2001:db8:6:4::c000:20b', True),
                                 ('h3', NATIVE_C, False), ('h1', '2001:db8:6:4::c633:640a', False)]),  # no multicast
    'nat64': (Nat64Topo, [('h6', synthesize(NAT64_PREFIX, V4_SERVER), True), ('h6', V4_SERVER, False),  # no IPv4 at all
                          ('x6', V4_SERVER, True)]),   # ... unless a CLAT translates it (464XLAT)
}
TAYGA = pytest.mark.host_only('Tayga and unbound run over TUN, the same on every kernel: the host suite tests them')
SIXOVER4 = pytest.mark.host_only('6over4 is the userspace daemon on every kernel (Linux has none): the host tests it')
USERSPACE_ONLY = {'nat64': TAYGA, '6over4': SIXOVER4}


@pytest.mark.parametrize('name', [pytest.param(name, marks=[USERSPACE_ONLY[name]] if name in USERSPACE_ONLY else [])
                                  for name in MATRICES])
def test_reachability_matrix(name):
    topo, matrix = MATRICES[name]
    with running(topo(), label=name) as net:
        outcomes = []
        for source, address, expected in matrix:
            ok, detail = reachable(net[source], address)
            print(f'{name}: {source} -> {address}: {"reached" if ok else "unreachable"} (expected '
                  f'{"reached" if expected else "unreachable"}; {detail})')
            outcomes.append(ok == expected)
    assert all(outcomes)


# (topology, node and interface to capture on, sender, destination, outer source and destination, inner source,
# inner hop limit): the outer header every mode writes, on either path
HEADERS = {
    '6in4': (SixInFourTopo, 'r1', 'a', '2001:db8:2::10', '192.0.2.1', '198.51.100.1', '2001:db8:1::10', 63),
    'v4compat': (V4CompatTopo, 'h1', 'h1', '::198.51.100.10', '192.0.2.10', '198.51.100.10', '::192.0.2.10', 64),
    '6rd': (SixRdTopo, 'ce1', 'a', '2001:db8:6002:101::10', '10.64.1.1', '10.64.2.1', '2001:db8:6001:101::10', 63),
    'isatap': (IsatapTopo, 'h1', 'h1', '2001:db8:5e::5efe:a00:3', '10.0.0.2', '10.0.0.3',
               '2001:db8:5e::5efe:a00:2', 64),
}


@pytest.mark.parametrize('mode', list(HEADERS))
def test_outer_header_on_the_wire(mode, tmp_path):
    topo, node, sender, destination, outer_src, outer_dst, inner_src, hop_limit = HEADERS[mode]
    with running(topo(), label=mode) as net:
        pcap = str(tmp_path / f'{mode}.pcap')
        reachable(net[sender], destination)  # neighbours and DAD settled first
        capture(net[node], f'{node}-eth0', 'ip proto 41',
                lambda: net[sender].cmd(f'ping -6 -c 1 -W 2 {destination}'), pcap, net.run)
        rows = decode_6in4(pcap)
        out = next(row for row in rows if ipaddress.ip_address(row['inner_dst']) == ipaddress.ip_address(destination))
        expected = {'proto': 41, 'src': outer_src, 'dst': outer_dst, 'ttl': 64, 'flags': 'DF',
                    'inner_src': str(ipaddress.ip_address(inner_src)), 'inner_hlim': hop_limit}
        measured = {key: out[key] for key in expected}
        measured['inner_src'] = str(ipaddress.ip_address(measured['inner_src']))
        print(f'{mode} ({net.plan.tunnel}): measured {measured}')
        assert measured == expected


def test_6in4_accepts_only_its_peer():
    with running(SixInFourTopo(), label='6in4') as net:
        if net.plan.tunnel == 'kernel':
            pytest.skip('sit drops a stranger\'s datagrams without a counter of its own')
        before = counters(net['r1'])['decap']
        net['core'].cmd(f'{sys.executable} -m testbed.sixtofour.spoof spoofed 20 --source 192.0.2.254 '
                        f'--target 192.0.2.1 --victim 2001:db8:1::10')
        after = counters(net['r1'])['decap']
        print('r1 decapsulation counters:', after)
        assert after['drop_not_peer'] - before['drop_not_peer'] == 20


def test_isatap_hosts_find_their_router_by_unicast_solicitation(tmp_path):
    with running(IsatapTopo(), label='isatap') as net:
        h1, h2, h3 = net['h1'], net['h2'], net['h3']
        learned = h1.advertisements['10.0.0.1']
        print(f'h1 ({net.plan.tunnel}) learned: {learned}')
        assert (str(learned.router), learned.prefixes, learned.mtu) == (
            'fe80::5efe:a00:1', (ipaddress.IPv6Network('2001:db8:5e::/64'),), 1480)
        global_addresses = h1.cmd('ip -6 addr show dev isatap0 scope global')
        print('h1:', ' '.join(global_addresses.split()))
        assert '2001:db8:5e::5efe:a00:2/64' in global_addresses and 'dynamic' in global_addresses   # from the RA
        assert 'via fe80::5efe:a00:1' in h1.cmd('ip -6 route show default')
        assert h3.advertisements == {'10.0.0.9': None}                                # nobody at h3's PRL entry
        assert not h3.cmd('ip -6 addr show dev isatap0 scope global').strip()
        pcap = str(tmp_path / 'isatap-rd.pcap')
        capture(h2, 'h2-eth0', 'ip proto 41', lambda: h2.cmd('rdisc6 -1 fe80::5efe:a00:1 isatap0'), pcap, net.run)
        rows = [(row['src'], row['dst'], row['inner_src'], row['inner_dst'], row['icmp6_type'])
                for row in decode_6in4(pcap)]
        print('on the wire (outer source, destination; inner source, destination; ICMPv6 type):', rows)
        assert rows == [('10.0.0.3', '10.0.0.1', 'fe80::5efe:a00:3', 'fe80::5efe:a00:1', 133),    # solicitation
                        ('10.0.0.1', '10.0.0.3', 'fe80::5efe:a00:1', 'fe80::5efe:a00:3', 134)]    # advertisement


@SIXOVER4
def test_6over4_neighbour_discovery_runs_over_ipv4_multicast(tmp_path):
    with running(SixOverFourTopo(), label='6over4') as net:
        h1, h2 = net['h1'], net['h2']
        pcap = str(tmp_path / '6over4.pcap')
        capture(h1, 'h1-eth0', 'ip proto 41', lambda: h1.cmd('ping -6 -c 1 -W 3 2001:db8:6:4::c000:20b'), pcap,
                net.run)
        rows = decode_6in4(pcap)
        solicitation = next(row for row in rows if row['dst'].startswith('239.192.'))
        print('neighbour solicitation:', {key: solicitation[key] for key in ('src', 'dst', 'ttl', 'inner_dst')})
        assert (solicitation['src'], solicitation['dst'], solicitation['ttl']) == ('192.0.2.10', '239.192.2.11', 8)
        assert solicitation['inner_dst'] == 'ff02::1:ff00:20b'     # h2's solicited-node group: its last 2 bytes
        neighbour = h1.cmd('ip -6 neigh show 2001:db8:6:4::c000:20b')
        print('h1 learned:', neighbour.strip())
        assert 'lladdr c0:00:02:0b:00:00' in neighbour           # RFC 2529: the IPv4 address is the link address
        assert h2.counters()['groups'] == ['239.192.0.1', '239.192.2.11']


def test_broker_api_answers_refuses_and_removes():
    with running(BrokerTopo(), label='broker') as net:
        c1 = net['c1']
        status, listing = c1.ask_broker('GET')
        assert status == 200 and [t['client_v4'] for t in listing['tunnels']] == ['192.0.2.10', '198.51.100.10']
        assert c1.ask_broker('POST', {'client_v4': '192.0.2.10'}) == (200, c1.allocation)   # the same tunnel again
        refusals = [c1.ask_broker('POST', {'client_v4': 'x'}), c1.ask_broker('POST', ['x']),
                    c1.ask_broker('DELETE', path='/tunnels/10.9.9.9'), c1.ask_broker('GET', path='/nothing')]
        print('refusals:', refusals)
        assert [status for status, _ in refusals] == [400, 400, 404, 404]
        assert all(set(answer) == {'error'} for _, answer in refusals)
        assert reachable(net['c'], '2001:db8:b200::1')[0]
        assert c1.ask_broker('DELETE', path='/tunnels/192.0.2.10')[0] == 204
        gone, detail = reachable(net['c'], '2001:db8:b200::1', deadline=2)
        print('after DELETE, c -> c1\'s site:', detail)
        assert not gone and len(c1.ask_broker('GET')[1]['tunnels']) == 1


@TAYGA
def test_dns64_synthesises_and_the_nat64_keeps_state_per_flow():
    with running(Nat64Topo(), label='nat64') as net:
        h6, nat64 = net['h6'], net['nat64']
        resolved = h6.cmd('getent ahostsv6 v4srv').split()
        print('h6 resolves v4srv to', resolved[:1], '; sessions before:', nat64.sessions())
        assert resolved and resolved[0] == str(synthesize(NAT64_PREFIX, V4_SERVER))
        before = nat64.sessions()
        address = resolved[0]
        h6.cmd(f'{sys.executable} -c "import socket; s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); '
               f'[s.sendto(b\'x\', (\'{address}\', port)) for port in (5001, 5002, 5003)]"')
        h6.cmd(f'ping -6 -c 1 -W 2 {address}')
        time.sleep(0.3)
        after = nat64.sessions()
        print(f'NAT64 sessions: {before} -> {after} after three UDP flows and one ping')
        assert after - before == 4


def test_6rd_customers_talk_directly_and_native_traffic_crosses_the_relay():
    with running(SixRdTopo(), label='6rd') as net:
        if net.plan.tunnel == 'kernel':
            pytest.skip('counts packets at the userspace encapsulator (the VM stage checks 6rd reachability)')
        before = counters(net['br'])['decap']['received']
        assert reachable(net['a'], '2001:db8:6002:101::10')[0]
        direct = counters(net['br'])['decap']['received'] - before
        assert reachable(net['a'], NATIVE_C)[0]
        via_relay = counters(net['br'])['decap']['received'] - before - direct
        print(f'6rd: packets through the BR for a -> b: {direct}, for a -> c: {via_relay}')
        assert direct == 0 and via_relay >= 2


@pytest.mark.host_only('fuzzes the userspace encapsulator; the kernel path has no daemon to fuzz')
@pytest.mark.parametrize('topo, node, source, target, victim', [
    (SixInFourTopo, 'r1', '198.51.100.1', '192.0.2.1', '2001:db8:1::10'),
    (V4CompatTopo, 'h1', '198.51.100.10', '192.0.2.10', '::192.0.2.10'),
    (SixRdTopo, 'ce1', '10.64.2.1', '10.64.1.1', '2001:db8:6001:101::10'),
    (IsatapTopo, 'h1', '10.0.0.3', '10.0.0.2', '2001:db8:5e::5efe:a00:2'),
    (SixOverFourTopo, 'h1', '192.0.2.11', '192.0.2.10', '2001:db8:6:4::c000:20a')])
def test_every_mode_survives_10000_malformed_datagrams(topo, node, source, target, victim):
    with running(topo(), label='fuzz') as net:
        endpoint = net[node]
        if net.plan.tunnel != 'userspace':
            pytest.skip('the tunnel path is the kernel\'s sit here')
        result = fuzz(endpoint, 10000, source, target, victim)
        decap = result['decap']
        print(f'{endpoint.tunnel["mode"]} fuzz: sent {result["sent"]}, received {decap["received"]}, kernel drops '
              f'{result["kernel_drops"]}, outcomes { {k: v for k, v in decap.items() if v} }')
        assert endpoint.tunnel_process.poll() is None, 'the encapsulator died'
        assert 'internal_errors' not in result['end']
        others = 50 if topo is SixOverFourTopo else 0   # 6over4 also hears its neighbours' multicast meanwhile
        assert result['sent'] == 10000 <= decap['received'] + result['kernel_drops'] <= 10000 + others
        assert result['outcomes'] == decap['received']

@pytest.mark.host_only('goodput ratios need a CPU that is not emulated; the VM checks the kernel modes above')
@pytest.mark.remeasure('a 2 % goodput ratio: a busy neighbour moves one run')
def test_transition_techniques_experiment(tmp_path):
    from testbed.reports import experiment
    folder, result = experiment.run('transition-techniques', results_root=str(tmp_path), log=lambda message: None)
    for row in result['raw']['rows']:
        print(f'{row["quantity"]}: measured {row["measured"]}, expected {row["expected"]} +- {row["tolerance"]}')
    assert sorted(os.listdir(folder)) == ['provenance.json', 'raw.csv', 'raw.json', 'report.md',
                                          'transition-goodput.png']
    assert all(row['pass'] for row in result['raw']['rows'])
