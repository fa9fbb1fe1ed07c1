"""``testbed bench sixtofour``: 6to4 goodput and delay on each available tunnel path (sit, userspace).

Two cases: ``sixtofour-direct`` (the two routers share one link shaped to 1000 Mb/s, no switches: the tunnel's own
ceiling, since a userspace Open vSwitch core tops out near 240 Mb/s here) and ``sixtofour-sites`` (three routed
switches, links at ``ratio_core_rate``: 100 Mb/s on the kernel datapath, 50 on the userspace one, whose forwarding
thread would cap IPv4 below its theory at 100 and hide the 20 bytes). Measured: TCP goodput a -> b through the
tunnel vs IPv4 r1 -> r2 on the same path, their ratio against the 1408/1448 the extra headers predict, and the RTT
the two encapsulations add. Targets: the
userspace encapsulator carries >= 500 Mb/s of TCP at 1000 Mb/s; the ratio is within 2 % of theory.
"""
import json
import sys
import time

from testbed.measure.compare import Comparison
from testbed.reports.bench import bench_row, format_table
from testbed.measure.probes import ping_rtts, rtt_summary, tcp_goodput, wire_sized_frames
from testbed.system.probe import choose_paths, probe
from testbed.measure.theory import sixtofour_goodput_ratio
from testbed.reports.demo6to4 import ratio_core_rate

USERSPACE_TARGET_BPS = 500e6
RATIO_TOLERANCE = 0.02


def bench_path(path, log=lambda message: None):
    from testbed.network.net import running
    from topologies.sixtofour import SixToFourDirectTopo, SixToFourSitesTopo
    plan = choose_paths(probe(), {'tunnel': path})
    rows = []
    theory, _, _ = sixtofour_goodput_ratio()

    def add(metric, configured, expected, measured, low, high, unit, note=''):
        rows.append(bench_row(path, configured, Comparison(metric, measured, expected, low, high, unit, note)))

    cases = ((SixToFourDirectTopo, 1000, 'routers on one link', None),
             (SixToFourSitesTopo, ratio_core_rate()[0], '3-switch core', 'router'))
    for topo_class, mbps, where, controller in cases:
        log(f'{path}: {where}, {mbps} Mb/s')
        with running(topo_class(bw=mbps), controller=controller, plan=plan, label='bench6') as net:
            a, b, r1, r2 = (net[name] for name in ('a', 'b', 'r1', 'r2'))
            b_address = b.params['ip6'].split('/')[0]
            wire_sized_frames(a, b, r1, r2)
            a.cmd(f'ping -6 -c 1 -M do -s 1452 -W 2 {b_address}')  # learn the path MTU before TCP starts
            sixtofour = tcp_goodput(a, b, seconds=10, address=b_address) / 1e6
            ipv4 = tcp_goodput(r1, r2, seconds=10, address=str(r2.v4.ip)) / 1e6
            if mbps == 1000:
                target = USERSPACE_TARGET_BPS / 1e6 if path == 'userspace' else 0.0
                routers = tcp_goodput(r1, r2, seconds=10, address=str(r2.tunnel_address)) / 1e6
                add('TCP goodput 6to4', f'htb {mbps} Mb/s, r1->r2 (tunnel)', target, routers, target, float('inf'),
                    'Mb/s', f'router to router over the tunnel; IPv4 r1->r2 on the same link: {ipv4:.0f} Mb/s')
                add('TCP goodput 6to4', f'htb {mbps} Mb/s, a->b (sites)', 0.0, sixtofour, 0.0, float('inf'),
                    'Mb/s', 'host to host: the routers also forward each packet on their LANs')
                rtt6 = rtt_summary(ping_rtts(a, b_address, 200, 0.01))['median']
                rtt4 = rtt_summary(ping_rtts(r1, str(r2.v4.ip), 200, 0.01))['median']
                add('RTT added by 6to4', 'ping6 a->b - ping r1->r2', 0.0, rtt6 - rtt4, 0.0, float('inf'), 'ms',
                    f'ping6 {rtt6:.3f} ms, IPv4 {rtt4:.3f} ms (two encapsulations, two LAN hops)')
            else:
                ratio = sixtofour / ipv4
                add('goodput ratio', f'htb {mbps} Mb/s, {where}', theory, ratio, theory * (1 - RATIO_TOLERANCE),
                    theory * (1 + RATIO_TOLERANCE), '6to4/IPv4', f'6to4 {sixtofour:.1f}, IPv4 {ipv4:.1f} Mb/s; '
                    f'theory 1408/1448')
            counters = r1.counters()
            rows[-1]['note'] += f'; r1 kernel socket drops {counters.get("kernel_socket_drops", "-")}'
    return rows


def run_sixtofour_bench(as_json=False, paths='available'):
    caps = probe()
    chosen = (['kernel'] if caps.has('sit') else []) + ['userspace']
    if paths in ('kernel', 'userspace'):
        chosen = [paths] if paths in chosen else []
        if not chosen:
            from testbed.errors import TestbedError
            raise TestbedError('the kernel tunnel path needs sit, which this kernel lacks (see testbed doctor)')
    started = time.monotonic()
    rows = []
    for path in chosen:
        rows += bench_path(path, log=lambda message: print(f'testbed: bench sixtofour {message}', file=sys.stderr,
                                                           flush=True))
    if as_json:
        print(json.dumps({'paths': chosen, 'seconds': round(time.monotonic() - started, 1), 'rows': rows}, indent=2,
                         default=str))
    else:
        print(format_table(rows))
        print(f'\n{sum(r["pass"] for r in rows)} of {len(rows)} within bounds; tunnel paths: {", ".join(chosen)}; '
              f'{time.monotonic() - started:.0f} s')
    return 0 if all(row['pass'] for row in rows) else 1
