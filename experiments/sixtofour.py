"""The paper's 6to4 tunnel measured against its header arithmetic: MSS, path MTU, goodput ratio, one hop."""
import re

from testbed.experiment import Experiment, Quantity
from testbed.measure import tcp_goodput, wire_sized_frames
from testbed.sixtofour import TUNNEL_MTU
from testbed.sixtofour_demo import goodput_ratio_theory
from topologies.sixtofour import SixToFourTopo


def theory(params):
    ratio, mss6, _ = goodput_ratio_theory()
    return [Quantity('goodput ratio 6to4/IPv4', ratio, '', relative=0.02),
            Quantity('MSS over the tunnel', mss6, 'B', absolute=0),
            Quantity('path MTU a->b', TUNNEL_MTU, 'B', absolute=0),
            Quantity('IPv6 hops a->b (tunnel = one hop)', 3, '', absolute=0),
            Quantity('IPv6 hops a->c (via the relay)', 6, '', absolute=0)]


def measure(net, params, repetition, log):
    a, b, r1, r2 = (net[name] for name in ('a', 'b', 'r1', 'r2'))
    b_address = b.params['ip6'].split('/')[0]
    wire_sized_frames(a, b, r1, r2)
    a.cmd(f'ping -6 -n -c 1 -W 2 -M do -s 1452 {b_address}')
    mtu = re.findall(r'mtu (\d+)', a.cmd(f'ip -6 route get {b_address}'))
    sixtofour, report = tcp_goodput(a, b, seconds=params['seconds'], address=b_address, report=True)
    ipv4 = tcp_goodput(r1, r2, seconds=params['seconds'], address=str(r2.v4.ip))
    hops = {dst: len(re.findall(r'^\s*\d+\s+\S+', a.cmd(f'traceroute -6 -n -q1 -w2 {dst}'), re.M))
            for dst in ('b', 'c')}
    return {'goodput ratio 6to4/IPv4': sixtofour / ipv4, 'MSS over the tunnel': report['start'].get('tcp_mss_default'),
            'path MTU a->b': int(mtu[0]) if mtu else None, 'IPv6 hops a->b (tunnel = one hop)': hops['b'],
            'IPv6 hops a->c (via the relay)': hops['c'], 'goodput 6to4 Mb/s': sixtofour / 1e6,
            'goodput IPv4 Mb/s': ipv4 / 1e6}


EXPERIMENT = Experiment(
    name='sixtofour', title='6to4 (RFC 3056): what the tunnel costs',
    model='A 6to4 router wraps each IPv6 packet in a 20-byte IPv4 header (protocol 41) addressed to the IPv4 address '
          'embedded in the 2002::/16 destination. The tunnel MTU is 1500 - 20 = 1480, so TCP over it carries 1480 - '
          '40 (IPv6) - 32 (TCP with timestamps) = 1408 bytes per frame against IPv4\'s 1448 on the same frames: a '
          'goodput ratio of 1408/1448 = 0.972. The whole IPv4 path is one IPv6 hop; native IPv6 goes via the relay.',
    topology=lambda params: SixToFourTopo(bw=params['bw']), theory=theory, measure=measure, controller='router',
    params={'bw': 100, 'seconds': 5}, repetitions=3)
