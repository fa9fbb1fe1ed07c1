"""``testbed demo``: the main job, run end to end with a readable report.

Part 1 is the paper: its two 6to4 scenarios on one network (``testbed.reports.demo6to4``). Part 2 is the lecture's
two links (Link-1: 10 Mb/s, 10 ms; Link-2: 1 Mb/s, 1 ms), each measurement compared with its textbook value:
round-trip time = 2 x (transmission + propagation) of a small ping, TCP goodput = rate x 1448/1514, and the
bandwidth-delay product. Both run on whichever data-plane paths this machine offers. The report is printed and
written to ``results/demo-<time>/`` as report.md, report.json, rtt.png, goodput.png and the protocol-41 capture.
"""
import json
import os
import time

from testbed.reports import demo6to4

from testbed.measure import theory
from testbed.measure.compare import Comparison
from testbed.measure.fidelity import rtt_tolerance
from testbed.measure.probes import ping_rtts, rtt_summary, tcp_goodput, wire_sized_frames
from testbed.network.net import running
from testbed.units import format_rate, format_time
from topologies.lecture import LectureLinksTopo

PING_PAYLOAD = 16             # the smallest ping that carries its timestamp
PING_FRAME = theory.ping_frame(PING_PAYLOAD)


def _row(comparison):
    """A comparison as a row of the report's table, and whether it passed."""
    c = comparison
    verdict = 'ok' if c.ok else 'OFF'
    row = f'| {c.what} | {c.expected:.2f} {c.unit} | {c.measured:.2f} {c.unit} | ± {c.tolerance:.2f} | {verdict} |'
    return row, c.ok


def lecture_links(log=print):
    """Part 2: markdown lines, data and whether every measurement was within tolerance."""
    lines = ["## Part 2: the lecture's two links", '',
             '| measurement | expected | measured | tolerance | |', '|---|---|---|---|---|']
    all_ok, data = True, {}
    topo = LectureLinksTopo()
    with running(topo, label='demo') as net:
        for (left, right, params), name in zip(topo.link_params(), ('Link-1', 'Link-2')):
            log(f'demo: measuring {name} ({params.describe()})')
            src, dst = net[left], net[right]
            wire_sized_frames(src, dst)  # HTB must shape the frames the 1448/1514 arithmetic counts, not GSO batches
            rtt = rtt_summary(ping_rtts(src, dst.IP(), count=50, interval=0.02, size=PING_PAYLOAD))['median']
            goodput = tcp_goodput(src, dst, seconds=6) / 1e6
            frame = PING_FRAME if params.serialized else 0  # an unserialised link does not hold a frame for L/R
            expected_rtt = 2 * theory.packet_delay_s(frame, params.bw, params.delay) * 1e3
            rate = params.bw / 1e6
            data[name] = {'rtt_ms': rtt, 'goodput_mbps': goodput, 'expected_rtt_ms': expected_rtt,
                          'expected_goodput_mbps': theory.tcp_goodput(rate)}
            for row, ok in (
                _row(Comparison.within(f'{name} RTT, {PING_PAYLOAD}-byte ping ({PING_FRAME} B frames), 2 x (L/R + d)',
                                       rtt, expected_rtt, rtt_tolerance([expected_rtt / 2])[0], 'ms')),
                _row(Comparison.within(f'{name} TCP goodput', goodput, theory.tcp_goodput(rate), rate * 0.03, 'Mb/s')),
            ):
                lines.append(row)
                all_ok &= ok
            bdp = theory.bdp_bytes(params.bw, params.delay)
            lines.append(f'| {name} bandwidth-delay product ({format_rate(params.bw)} × {format_time(params.delay)})'
                         f' | {bdp * 8:,.0f} bit = {bdp:,.0f} B | | | theory |')
    lines += ['', 'Lecture: a 10-byte packet takes ~10 ms on Link-1 and ~1 ms on Link-2 (propagation dominates); '
              'a 10,000-byte packet takes ~18 ms vs ~81 ms (transmission dominates on the narrow link).']
    return lines, data, all_ok


def run_demo(results_dir='results', log=print):
    started = time.monotonic()
    folder = os.path.join(results_dir, time.strftime('demo-%Y%m%d-%H%M%S'))
    os.makedirs(folder, exist_ok=True)
    part1, data6, checks = demo6to4.run(folder, log=log)
    part2, data_links, links_ok = lecture_links(log=log)
    sixtofour_ok = all(check['ok'] for check in checks)
    all_ok = sixtofour_ok and links_ok
    lines = ['# Testbed demo: the paper\'s 6to4 scenarios and the lecture\'s links', '',
             'Plots: `rtt.png`, `goodput.png`; capture: `r1-wan.pcap`; data: `report.json`.', ''] + part1 + [''] + part2
    verdict = 'all checks and measurements within tolerance' if all_ok else 'SOME CHECKS FAILED OR MEASUREMENTS OFF'
    lines += ['', f'Finished in {time.monotonic() - started:.0f} s: {verdict}.']
    report = '\n'.join(lines)
    with open(os.path.join(folder, 'report.md'), 'w') as handle:
        handle.write(report + '\n')
    with open(os.path.join(folder, 'report.json'), 'w') as handle:
        json.dump({'sixtofour': data6, 'checks': checks, 'lecture_links': data_links, 'ok': all_ok}, handle,
                  indent=1, default=str)
    demo6to4.plots(data6, folder)
    print(report)
    print(f'\nreport written to {folder}/report.md (with report.json, rtt.png, goodput.png, r1-wan.pcap)')
    return 0 if all_ok else 1
