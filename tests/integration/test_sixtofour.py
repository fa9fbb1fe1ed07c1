"""The paper's 6to4 networks on real namespaces, switches and tunnels (sit in the VM stage, the userspace
encapsulator here): names, reachability, the tunnel as one hop, on-wire headers, MTU, RFC 3964 filtering, relay
failover, and fuzzing the encapsulator."""
import json
import os
import re
import sys
import time

import pytest

from testbed.network.capture import capture, decode_6in4
from testbed.measure.probes import traceroute_hops
from testbed.network.net import running
from testbed.sixtofour.addressing import TUNNEL_MTU
from tests.integration.fuzzing import counters, fuzz
from topologies.sixtofour import SixToFourTopo

A, B, C = '2002:c000:201:1::10', '2002:c633:6401:1::10', '2001:db8:c::10'
RESULTS = os.environ.get('TESTBED_RESULTS', os.path.join(os.path.dirname(__file__), '..', '..', 'results'))


@pytest.fixture(scope='module')
def net():
    with running(SixToFourTopo(), controller='router', label='sixtofour') as network:
        print(f'6to4 path: {network.plan.tunnel}')
        yield network



def test_hosts_resolve_each_other_by_name_and_reach_each_other(net):
    resolved = net['a'].cmd('getent ahostsv6 b.sixtofour.test').split()
    assert resolved and resolved[0] == B, resolved
    for src, dst in (('a', 'b'), ('b', 'a'), ('a', 'c'), ('c', 'a')):
        output = net[src].cmd(f'ping -6 -n -c 5 -i 0.05 -W 2 {dst}')
        print(f'{src} -> {dst}:', output.strip().splitlines()[-2])
        assert ' 0% packet loss' in output, output


@pytest.mark.smoke
def test_traceroute_shows_the_tunnel_as_one_hop(net):
    hops = traceroute_hops(net['a'], B)
    print('a -> b:', hops)
    # r1's LAN address, r2's 6to4 address, b: the three IPv4 core switches are inside the tunnel
    assert hops == ['2002:c000:201:1::1', '2002:c633:6401::1', B]
    hops = traceroute_hops(net['a'], C)
    print('a -> c:', hops)
    assert hops[:2] == ['2002:c000:201:1::1', '2002:c058:6301::1'] and hops[-1] == C  # via the relay


@pytest.mark.smoke
def test_protocol_41_headers_on_the_ipv4_core(net):
    """Outer and inner headers as RFC 3056 and the sit device write them; saved per path for comparison."""
    pcap = net.run.path('r1-wan.pcap')
    capture(net['r1'], 'r1-eth0', 'ip proto 41', lambda: (net['a'].cmd(f'ping -6 -c 1 -W 2 {B}'),
                                                          net['a'].cmd(f'ping -6 -c 1 -W 2 {C}')), pcap, net.run)
    rows = decode_6in4(pcap)
    for row in rows:
        print(row['summary'])
    to_b = next(r for r in rows if r['inner_dst'] == B)
    to_c = next(r for r in rows if r['inner_dst'] == C)
    from_c = next(r for r in rows if r['inner_src'] == C)
    expected = {'version': 4, 'ihl': 5, 'tos': 0, 'flags': 'DF', 'frag': 0, 'ttl': 64, 'proto': 41,
                'src': '192.0.2.1', 'dst': '198.51.100.1', 'inner_version': 6, 'inner_src': A,
                'inner_hlim': 63}  # a sends with hop limit 64; r1 forwards it into the tunnel once
    measured = {key: to_b[key] for key in expected}
    print('measured:', measured)
    assert measured == expected
    assert (to_c['dst'], to_c['src']) == ('192.88.99.1', '192.0.2.1')      # native IPv6: to the relay
    assert (from_c['src'], from_c['dst']) == ('192.88.99.1', '192.0.2.1')  # the reply: from the anycast address
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, f'sixtofour-headers-{net.plan.tunnel}.json'), 'w') as handle:
        json.dump({'path': net.plan.tunnel, 'packets': rows}, handle, indent=1)


@pytest.mark.smoke
def test_tunnel_mtu_and_packet_too_big(net):
    fits = net['a'].cmd(f'ping -6 -n -c 1 -W 2 -M do -s {TUNNEL_MTU - 48} {B}')
    too_big = net['a'].cmd(f'ping -6 -n -c 2 -W 2 -M do -s {TUNNEL_MTU - 47} {B}')
    print(too_big.strip())
    assert ' 0% packet loss' in fits
    assert re.search(r'[Pp]acket too big.*mtu\s*=\s*1480', too_big), too_big


@pytest.mark.parametrize('kind, reason', [pytest.param('spoofed', 'spoofed', marks=pytest.mark.smoke),
                                          ('native', 'not_from_relay'), ('martian', 'martian')])
def test_rfc3964_drops_and_counts_spoofed_packets(net, kind, reason):
    r1, r2, a = net['r1'], net['r2'], net['a']
    before = counters(r1)['decap'].get(f'drop_{reason}', 0)
    received_before = a.cmd('cat /proc/net/snmp6 | grep Icmp6InEchos').split()
    output = r2.cmd(f'{sys.executable} -m testbed.sixtofour.spoof {kind} 20 --source 198.51.100.1 --target 192.0.2.1 '
                    f'--victim {A}')
    sent = json.loads(output.strip().splitlines()[-1])['sent']
    after = counters(r1)['decap'].get(f'drop_{reason}', 0)
    received_after = a.cmd('cat /proc/net/snmp6 | grep Icmp6InEchos').split()
    print(f'{kind}: sent {sent}, r1 drop_{reason} {before} -> {after} ({r1.counters()["path"]} path); '
          f'a echo requests {received_before[-1]} -> {received_after[-1]}')
    assert sent == 20 and after - before == 20
    assert received_before == received_after  # none reached the victim


def test_counters_from_the_command_line(net):
    """`testbed sixtofour --json` reads the same counters from another process (file or kernel, per path)."""
    import subprocess
    net['b'].cmd(f'ping -6 -c 3 -i 0.05 -W 2 {A}')
    time.sleep(0.6)  # the encapsulator writes its counters within 0.25 s of the last packet
    output = subprocess.run([sys.executable, '-m', 'testbed', 'sixtofour', '--json'], capture_output=True, text=True,
                            timeout=60)
    assert output.returncode == 0, output.stderr
    tunnels = json.loads(output.stdout)['tunnels']
    print({name: (row['path'], row['counters'].get('decap', {}).get('drop_spoofed')) for name, row in tunnels.items()})
    assert set(tunnels) == {'r1', 'r2', 'relay'}
    assert tunnels['r1']['path'] == net.plan.tunnel and tunnels['r1']['prefix'] == '2002:c000:201::/48'
    assert tunnels['r1']['counters']['decap']['delivered'] > 0
    assert tunnels['r1']['counters']['decap'].get('drop_spoofed', 0) >= 20  # the spoofing test ran before


@pytest.mark.host_only('fuzzes the userspace encapsulator; the kernel path has no daemon to fuzz')
def test_userspace_encapsulator_survives_fuzz(net):
    if net.plan.tunnel != 'userspace':
        pytest.skip('the tunnel path is the kernel\'s sit here: the userspace pass (TESTBED_PATH) fuzzes it')
    r1 = net['r1']
    pid = r1.tunnel_process.pid

    def rss_kb():
        with open(f'/proc/{pid}/status') as handle:
            return int(re.search(r'VmRSS:\s+(\d+)', handle.read()).group(1))
    # sent from inside r1 to its own address (over loopback): nothing between the fuzzer and the encapsulator
    # can drop a datagram, so every one must be accounted for in its counters
    r1.cmd(f'{sys.executable} -m testbed.sixtofour.spoof fuzz 2000 --source 198.51.100.1 '
           f'--target 192.0.2.1 --victim {A}')  # warm up allocator pools
    rss_start = rss_kb()
    result = fuzz(r1, 100000, '198.51.100.1', '192.0.2.1', A)
    rss_end, decap = rss_kb(), result['decap']
    print(f'fuzz: sent {result["sent"]}, received {decap["received"]}, kernel socket drops '
          f'{result["kernel_drops"]}, outcomes {decap}; RSS {rss_start} -> {rss_end} kB; alive: '
          f'{r1.tunnel_process.poll() is None}')
    assert r1.tunnel_process.poll() is None, 'the encapsulator died'
    assert 'internal_errors' not in result['end']
    assert decap['received'] + result['kernel_drops'] == result['sent'] == 100000
    assert result['outcomes'] == decap['received']
    assert rss_end - rss_start < 2048, 'memory grew by more than 2 MB'
    ping = net['a'].cmd(f'ping -6 -c 3 -i 0.1 -W 2 {B}')
    assert ' 0% packet loss' in ping  # and it still forwards
