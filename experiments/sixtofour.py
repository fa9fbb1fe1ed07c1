"""The paper's 6to4 tunnel measured against its header arithmetic: MSS, path MTU, goodput ratio, one hop, what an
encapsulation adds to a round trip, and the detour native IPv6 traffic takes through the relay."""
import re

from testbed.reports.experiment import Experiment, Quantity, hbars
from testbed.measure.fidelity import ENCAPSULATION_BOUND_MS, rtt_tolerance
from testbed.measure.probes import (BASELINE_SHARE, best_goodputs, ping_rtts, rtt_summary, traceroute_hops,
                                    wire_sized_frames)
from testbed.sixtofour.addressing import RELAY_ANYCAST, TUNNEL_MTU, router_6to4_address
from testbed.measure.theory import sixtofour_goodput_ratio, tcp_goodput
from topologies.sixtofour import SixToFourTopo


RELAY_ANYCAST_6TO4 = str(router_6to4_address(RELAY_ANYCAST))  # 2002:c058:6301::1 (RFC 3068)
# below this share the machine, not the link, set the IPv4 pace, and the ratio row means nothing
BASELINE_ROW = 'IPv4 goodput r1->r2 / its theory'


def theory(params):
    ratio, mss6, _ = sixtofour_goodput_ratio()
    delay = params['relay_delay_ms']
    # a -> c and a -> b cross the same number of switches and encapsulators; only a -> c goes out to the relay
    detour_tolerance, _ = rtt_tolerance([delay])
    return [Quantity('RTT added per encapsulation (r1 <-> r2: tunnel vs IPv4)', ENCAPSULATION_BOUND_MS, 'ms',
                     bound='max'),
            Quantity('relay detour: RTT a->c minus RTT a->b', 2 * delay, 'ms',
                     absolute=detour_tolerance + 2 * ENCAPSULATION_BOUND_MS),
            Quantity(BASELINE_ROW, BASELINE_SHARE, '', bound='min'),
            Quantity('goodput ratio 6to4/IPv4', ratio, '', relative=0.02),
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
    baseline = tcp_goodput(params['bw'] * 1e6)
    best = best_goodputs({'6to4': (a, b, b_address), 'ipv4': (r1, r2, str(r2.v4.ip))}, seconds=params['seconds'],
                         rounds=2, reports=True, baseline=('ipv4', baseline))
    (sixtofour, report), (ipv4, _) = best['6to4'], best['ipv4']
    hops = {dst: len(traceroute_hops(a, dst, ipv6=True))
            for dst in ('b', 'c')}
    c_address = net['c'].params['ip6'].split('/')[0]
    rtt = {name: rtt_summary(ping_rtts(src, dst, count=params['pings'], interval=0.01))['median']
           for name, src, dst in (('tunnel', r1, str(r2.tunnel_address)), ('ipv4', r1, str(r2.v4.ip)),
                                  ('a->c', a, c_address), ('a->b', a, b_address), ('a->relay', a, RELAY_ANYCAST_6TO4))}
    return {'RTT added per encapsulation (r1 <-> r2: tunnel vs IPv4)': (rtt['tunnel'] - rtt['ipv4']) / 2,
            'relay detour: RTT a->c minus RTT a->b': rtt['a->c'] - rtt['a->b'],
            'RTT ms': rtt,
            BASELINE_ROW: ipv4 / baseline, 'goodput ratio 6to4/IPv4': sixtofour / ipv4,
            'MSS over the tunnel': report['start'].get('tcp_mss_default'),
            'path MTU a->b': int(mtu[0]) if mtu else None, 'IPv6 hops a->b (tunnel = one hop)': hops['b'],
            'IPv6 hops a->c (via the relay)': hops['c'], 'goodput 6to4 Mb/s': sixtofour / 1e6,
            'goodput IPv4 Mb/s': ipv4 / 1e6}


def notes(result):
    first = result['raw']['repetitions'][0]
    rtt = first['RTT ms']
    delay = result['raw']['params']['relay_delay_ms']
    return [f'Round trips (median of {result["raw"]["params"]["pings"]} pings, first repetition): r1 -> r2 over the '
            f'tunnel {rtt["tunnel"]:.3f} ms vs IPv4 on the same links {rtt["ipv4"]:.3f} ms; a -> b '
            f'{rtt["a->b"]:.3f} ms; a -> c {rtt["a->c"]:.3f} ms; a -> the relay itself (its 6to4 anycast address '
            f'{RELAY_ANYCAST_6TO4}) {rtt["a->relay"]:.3f} ms.', '',
            'The tunnel adds 20 bytes per packet, whose transmission time is negligible; what it adds to a round '
            f'trip is the encapsulators\' processing, bounded here by {ENCAPSULATION_BOUND_MS} ms per encapsulation. '
            'Native IPv6 traffic from a 6to4 site detours through the relay: A reaches C over the IPv4 core to the '
            f'relay, then over the native core, so the relay\'s place decides the path. Here the relay sits {delay} '
            f'ms (one way) from the IPv4 core, so A -> C should take 2 x {delay} ms longer than A -> B, which crosses '
            'as many switches and encapsulators (tolerance: the link check\'s plus two encapsulations). RFC 7526 '
            'deprecated the anycast relay for exactly this: users could not know how far, or how broken, it was.',
            '', f'Goodput: 6to4 {first["goodput 6to4 Mb/s"]:.2f} Mb/s, IPv4 {first["goodput IPv4 Mb/s"]:.2f} Mb/s.']


def plot(result, folder):
    """Round trips of the first repetition: what the tunnel adds (r1 <-> r2) and the detour through the relay."""
    rtt = result['raw']['repetitions'][0]['RTT ms']
    labels = [('ipv4', 'r1 -> r2, IPv4'), ('tunnel', 'r1 -> r2, 6to4 tunnel'), ('a->b', 'a -> b (scenario 1)'),
              ('a->relay', 'a -> the relay'), ('a->c', 'a -> c via the relay')]
    bars = [(label, rtt[key], 'C1' if 'relay' in label else 'C0') for key, label in labels]
    return hbars(folder, 'sixtofour-rtt.png', bars, 'median RTT (ms)')


EXPERIMENT = Experiment(
    name='sixtofour', title='6to4 (RFC 3056): what the tunnel costs',
    model='A 6to4 router wraps each IPv6 packet in a 20-byte IPv4 header (protocol 41) addressed to the IPv4 address '
          'embedded in the 2002::/16 destination. The tunnel MTU is 1500 - 20 = 1480, so TCP over it carries 1480 - '
          '40 (IPv6) - 32 (TCP with timestamps) = 1408 bytes per frame against IPv4\'s 1448 on the same frames: a '
          'goodput ratio of 1408/1448 = 0.972. The whole IPv4 path is one IPv6 hop; native IPv6 goes via the relay.',
    topology=lambda params: SixToFourTopo(bw=params['bw'], relay_delay=f'{params["relay_delay_ms"]}ms'),
    theory=theory,
    measure=measure, controller='router', notes=notes, plot=plot,
    # 50 Mb/s: below what the userspace datapath forwards (its forwarding thread saturates near 93 Mb/s across the
    # three core switches on 2 vCPUs, which would cap both encapsulations alike); the kernel datapath does 100
    params={'bw': 50, 'seconds': 5, 'relay_delay_ms': 10, 'pings': 50}, repetitions=3,
    ranges={'bw': (1, 1000), 'seconds': (1, 60), 'relay_delay_ms': (0, 1000), 'pings': (1, 1000, 'whole')})
