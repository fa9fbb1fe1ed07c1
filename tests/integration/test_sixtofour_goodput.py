"""6to4's cost in goodput: TCP through the tunnel vs IPv4 on the same core path, against theory.

Theory (testbed.measure.theory.sixtofour_goodput_ratio): equal frames on the wire; IPv4 carries 1448 payload bytes
per frame, 6to4 1408 (its 20-byte outer header and the 40-byte IPv6 header), so the ratio is 0.9724. Tolerance 2 %.
The core rate (testbed.reports.demo6to4.ratio_core_rate) is 100 Mb/s on the kernel datapath, 50 on the userspace one
(ovs-vswitchd's forwarding thread saturates near 93 Mb/s across three switches on 2 vCPUs) and 20 under an
emulated CPU: a CPU-bound path caps both encapsulations alike and hides the 20 bytes, so the IPv4 baseline must
first reach 97 % of its own theory (testbed.measure.probes.held_back): if it falls short twice, the machine set the
pace and the test is skipped with the figures. Each path's goodput is the best of two alternating runs
(testbed.measure.probes.best_goodputs). Segmentation offload is off on the measured nodes, so HTB shapes wire-sized
frames
on both paths (the kernel's sit passes GSO super-frames through otherwise). Router to router (r1's and r2's 6to4
addresses) isolates the tunnel; host to host (a -> b) adds an IPv6 forwarding hop at each end, which an emulated
CPU struggles with, so there it is reported, not asserted.
"""
import pytest

from testbed.measure.probes import best_goodputs, held_back, wire_sized_frames
from testbed.network.net import running
from testbed.system.probe import probe
from testbed.measure import theory as arithmetic
from testbed.reports.demo6to4 import ratio_core_rate
from topologies.sixtofour import SixToFourDirectTopo, SixToFourSitesTopo

TOLERANCE = 0.02


@pytest.mark.remeasure('a 2 % goodput ratio: a busy neighbour moves one run')
def test_sixtofour_goodput_ratio_matches_the_header_overhead():
    emulated = probe().has('cpu_emulated')
    rate, why = ratio_core_rate()
    baseline = arithmetic.tcp_goodput(rate * 1e6)
    with running(SixToFourSitesTopo(bw=rate), controller='router', label='ratio') as net:
        a, b, r1, r2 = (net[name] for name in ('a', 'b', 'r1', 'r2'))
        b_address = b.params['ip6'].split('/')[0]
        wire_sized_frames(a, b, r1, r2)
        a.cmd(f'ping -6 -c 1 -M do -s 1452 -W 2 {b_address}')  # learn the path MTU first
        best = best_goodputs({'ipv4': (r1, r2, str(r2.v4.ip)), 'routers': (r1, r2, str(r2.tunnel_address)),
                              'hosts': (a, b, b_address)}, rounds=2, baseline=('ipv4', baseline))
        ipv4, routers, hosts = best['ipv4'], best['routers'], best['hosts']
    theory, _, _ = arithmetic.sixtofour_goodput_ratio()
    print(f'{net.plan.tunnel} tunnel, core {rate} Mb/s ({why}): IPv4 r1->r2 {ipv4 / 1e6:.2f} Mb/s (theory '
          f'{baseline / 1e6:.2f}); 6to4 r1->r2 {routers / 1e6:.2f} Mb/s, ratio {routers / ipv4:.4f}; 6to4 a->b '
          f'{hosts / 1e6:.2f} Mb/s, ratio {hosts / ipv4:.4f}; expected {theory:.4f} +- {TOLERANCE:.0%}'
          + ('; a->b not asserted: emulated CPU' if emulated else ''))
    if held_back(ipv4, baseline):
        pytest.skip(f'IPv4 r1->r2: {held_back(ipv4, baseline)}')
    assert abs(routers / ipv4 - theory) <= TOLERANCE * theory
    if not emulated:
        assert abs(hosts / ipv4 - theory) <= TOLERANCE * theory


NATIVE = ('fd00:6::1', 'fd00:6::2')  # native IPv6 on the routers' shared WAN link (inside the namespaces only)


def test_sixtofour_vs_native_ipv6_on_the_same_link():
    """The issue's bar: 6to4 >= 0.95 x native IPv6 on the same path. Theory 1408 / 1428 = 0.986 (same frames;
    6to4 loses 20 bytes of each to the outer IPv4 header). Checked within 2 % of that, and against 0.95, at the
    rate that leaves the CPU out of it; the baseline (native IPv6) must reach 97 % of its theory as above."""
    rate, _ = ratio_core_rate()
    baseline = arithmetic.tcp_goodput(rate * 1e6, ip_header=arithmetic.IPV6_HEADER)
    with running(SixToFourDirectTopo(bw=rate), label='native6') as net:
        r1, r2 = net['r1'], net['r2']
        wire_sized_frames(r1, r2)
        for node, address in ((r1, NATIVE[0]), (r2, NATIVE[1])):
            node.cmd(f'ip -6 addr add {address}/64 dev {node.intfNames()[0]} nodad')
        best = best_goodputs({'native': (r1, r2, NATIVE[1]), 'tunnel': (r1, r2, str(r2.tunnel_address))},
                             rounds=2, baseline=('native', baseline))
        native, tunnel = best['native'], best['tunnel']
    _, mss6, _ = arithmetic.sixtofour_goodput_ratio()
    theory = mss6 / arithmetic.tcp_mss(ip_header=arithmetic.IPV6_HEADER)
    print(f'{net.plan.tunnel} tunnel, link {rate} Mb/s: native IPv6 {native / 1e6:.2f} Mb/s (theory '
          f'{baseline / 1e6:.2f}), 6to4 {tunnel / 1e6:.2f} Mb/s, ratio {tunnel / native:.4f}; expected {theory:.4f} '
          f'+- {TOLERANCE:.0%} (and >= 0.95)')
    if held_back(native, baseline):
        pytest.skip(f'native IPv6 r1->r2: {held_back(native, baseline)}')
    assert tunnel / native >= 0.95
    assert abs(tunnel / native - theory) <= TOLERANCE * theory
