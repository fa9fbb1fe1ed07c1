"""6to4's cost in goodput: TCP through the tunnel vs IPv4 on the same 100 Mb/s core path, against theory.

Theory (testbed.sixtofour_demo.goodput_ratio_theory): equal frames on the wire; IPv4 carries 1448 payload bytes
per frame, 6to4 1408 (its 20-byte outer header and the 40-byte IPv6 header), so the ratio is 0.9724. Tolerance 2 %.
"""
from testbed.measure import tcp_goodput
from testbed.net import running
from testbed.sixtofour_demo import goodput_ratio_theory
from topologies.sixtofour import SixToFourSitesTopo

TOLERANCE = 0.02


def test_sixtofour_goodput_ratio_matches_the_header_overhead():
    with running(SixToFourSitesTopo(bw=100), controller='router', label='ratio') as net:
        a, b, r1, r2 = (net[name] for name in ('a', 'b', 'r1', 'r2'))
        b_address = b.params['ip6'].split('/')[0]
        a.cmd(f'ping -6 -c 1 -M do -s 1452 -W 2 {b_address}')  # learn the path MTU first
        sixtofour = tcp_goodput(a, b, seconds=6, address=b_address)
        ipv4 = tcp_goodput(r1, r2, seconds=6, address=str(r2.v4.ip))
        theory, _, _ = goodput_ratio_theory()
        ratio = sixtofour / ipv4
        print(f'{net.plan.tunnel} tunnel: 6to4 {sixtofour / 1e6:.2f} Mb/s, IPv4 {ipv4 / 1e6:.2f} Mb/s, ratio '
              f'{ratio:.4f}, expected {theory:.4f} +- {TOLERANCE:.0%}')
        assert abs(ratio - theory) <= TOLERANCE * theory
