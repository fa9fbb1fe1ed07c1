"""``testbed bench links``: configured vs measured link behaviour on each available data-plane path.

For every path (kernel netem, userspace delay line) it builds the ``pair`` topology (two hosts, one link) and
measures: median RTT for one-way delays of 1, 10 and 50 ms (expected 2 x delay); TCP goodput at 1, 10 and
100 Mb/s (expected 93-102 % of the rate, the ceiling being TCP/IP over Ethernet, 1448/1514 = 95.6 %); one-way UDP
loss at 1 % and 10 % over 20,000 packets (testbed.measure.udpprobe); and the highest TCP rate through a link of
10 ms each way with no rate limit (for the userspace path, the delay line's ceiling). Prints a table, or JSON with
``--json``.
"""
import json
import sys
import time

from testbed.errors import TestbedError
from testbed.measure import theory
from testbed.measure.compare import Comparison
from testbed.measure.fidelity import rtt_tolerance
from testbed.measure.probes import ping_rtts, rtt_summary, tcp_goodput, udp_loss
from testbed.system.probe import choose_paths, probe

GOODPUT_RANGE = (0.93, 1.02)
LOSS_TOLERANCE_POINTS = 1.0
CEILING_TARGET_BPS = {'userspace': 500e6}


def _measure(plan, shaping, measure):
    """``measure(h1, h2)`` on a pair of hosts joined by one shaped link; the network is always stopped."""
    from testbed.network.net import running
    from topologies.basic import PairTopo
    with running(PairTopo(**shaping), plan=plan, label='bench') as net:
        h1, h2 = net.hosts
        return measure(h1, h2)


def bench_path(path, quick=False, log=lambda message: None):
    """All cases for one path; a list of result rows."""
    plan = choose_paths(probe(), {'delay': path})
    rows = []

    def add(metric, configured, expected, measured, low, high, unit, note=''):
        rows.append(bench_row(path, configured, Comparison(metric, measured, expected, low, high, unit, note)))

    pings = 50 if quick else 300
    for delay_ms in (1, 10, 50):
        log(f'{path}: RTT with delay {delay_ms} ms')
        summary = _measure(plan, {'delay': f'{delay_ms}ms'},
                           lambda h1, h2: rtt_summary(ping_rtts(h1, h2.IP(), pings, 0.01)))
        expected = 2 * delay_ms
        tolerance, _ = rtt_tolerance([delay_ms])
        add('RTT (median)', f'delay {delay_ms} ms', expected, summary.get('median', float('nan')),
            expected - tolerance, expected + tolerance, 'ms',
            f'p95 {summary.get("p95", 0):.2f} ms, n={summary["count"]}')
    seconds = 10  # shorter runs under-read 1 Mb/s (slow start is a large share of 4 s)
    for mbps in (1, 10, 100):
        log(f'{path}: TCP goodput at {mbps} Mb/s')
        goodput = _measure(plan, {'bw': mbps, 'delay': '1ms'}, lambda h1, h2: tcp_goodput(h1, h2, seconds)) / 1e6
        add('TCP goodput', f'bw {mbps} Mb/s, delay 1 ms', theory.tcp_goodput(mbps), goodput, mbps * GOODPUT_RANGE[0],
            mbps * GOODPUT_RANGE[1], 'Mb/s', f'{100 * goodput / mbps:.1f} % of bw')
    packets = 5000 if quick else 20000
    for loss in (1, 10):
        log(f'{path}: one-way UDP loss at {loss} %')
        measured, sent = _measure(plan, {'loss': loss, 'delay': '1ms'},
                                  lambda h1, h2: udp_loss(h1, h2, packets=packets))
        add('UDP loss (one way)', f'loss {loss} %', loss, measured, loss - LOSS_TOLERANCE_POINTS,
            loss + LOSS_TOLERANCE_POINTS, '%', f'{sent} packets')
    log(f'{path}: TCP ceiling with 10 ms each way')
    ceiling = _measure(plan, {'delay': '10ms'}, lambda h1, h2: tcp_goodput(h1, h2, seconds, streams=1)) / 1e6
    target = CEILING_TARGET_BPS.get(path, 0) / 1e6
    add('TCP ceiling', 'unshaped, delay 10 ms', target, ceiling, target, float('inf'), 'Mb/s',
        'highest rate (single stream)')
    return rows


def bench_row(path, configured, comparison):
    """One row of a bench's table and JSON: the path, what was configured, and the comparison."""
    return {'path': path, 'metric': comparison.what, 'configured': configured, 'expected': comparison.expected,
            'measured': comparison.measured, 'low': comparison.low, 'high': comparison.high,
            'unit': comparison.unit, 'pass': comparison.ok, 'note': comparison.why}


def format_table(rows):
    lines = [f'{"path":<10} {"metric":<19} {"configured":<24} {"expected":>9} {"measured":>9} {"bounds":>17} '
             f'{"":<5} note']
    for row in rows:
        high = '-' if row['high'] == float('inf') else f'{row["high"]:.2f}'
        bounds = f'{row["low"]:.2f}..{high}'
        lines.append(f'{row["path"]:<10} {row["metric"]:<19} {row["configured"]:<24} {row["expected"]:>9.2f} '
                     f'{row["measured"]:>9.2f} {bounds:>17} {"ok" if row["pass"] else "FAIL":<5} '
                     f'{row["unit"]}; {row["note"]}')
    return '\n'.join(lines)


def available_paths(request):
    caps = probe()
    paths = ['kernel'] if caps.has('sch_netem') else []
    paths.append('userspace')
    if request in ('kernel', 'userspace'):
        if request not in paths:
            raise TestbedError('the kernel path needs sch_netem, which this kernel lacks (see testbed doctor)')
        return [request]
    return paths


def run_link_bench(as_json=False, quick=False, paths='available'):
    chosen = available_paths(paths)
    started = time.monotonic()
    rows = []
    for path in chosen:
        rows += bench_path(path, quick=quick,
                           log=lambda message: print(f'testbed: bench {message}', file=sys.stderr, flush=True))
    if as_json:
        print(json.dumps({'paths': chosen, 'quick': quick, 'seconds': round(time.monotonic() - started, 1),
                          'rows': rows}, indent=2, default=str))
    else:
        print(format_table(rows))
        print(f'\n{sum(r["pass"] for r in rows)} of {len(rows)} within bounds; paths: {", ".join(chosen)}; '
              f'{time.monotonic() - started:.0f} s' + (' (quick: fewer samples)' if quick else ''))
    return 0 if all(row['pass'] for row in rows) else 1
