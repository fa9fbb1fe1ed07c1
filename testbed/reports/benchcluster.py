"""``testbed bench cluster``: what a network costs on one server and on two (Mininet's cluster edition, fake servers).

Both servers are fake servers on this machine (``testbed.cluster.fake``): they share its CPUs and memory, so the
bench measures costs, not a speed-up. For the routed 1 x N grid with the router app (N = 20, 50), on one server and
split over two: **up**, from nothing to the first ping from h1 to hN; **stop**; and the machine's memory in use once up
(the drop of MemAvailable: node shells, their ssh sessions, switches, tunnels), per node. Then TCP from h1 to hN for
5 s, on one server (veths and userspace switches) and across the two (the same, plus the ssh Ethernet tunnel in the
middle): goodput, and the CPU the machine spent for it (busy time of all CPUs from ``/proc/stat``), per Mb/s.
``docs/scaling.md`` projects from these figures.
"""
import json
import os
import sys
import time
from typing import Dict, List

from testbed.measure.probes import tcp_goodput
from testbed.reports.benchscale import available_mb, first_ping

SIZES = (20, 50)
TRAFFIC_SECONDS = 5


def busy_seconds() -> float:
    """CPU seconds spent busy (all CPUs, everything but idle and iowait) since boot."""
    with open('/proc/stat') as handle:
        fields = [int(value) for value in handle.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf('SC_CLK_TCK')


def one_case(servers: List[str], cols: int, traffic: bool) -> Dict:
    from testbed.cluster.net import ClusterNet
    from topologies.control import GridTopo
    before = available_mb()
    started = time.monotonic()
    net = ClusterNet(GridTopo(rows=1, cols=cols, ipv6=False), servers=servers, controller='router', user='root',
                     label='benchcluster')
    row: Dict = {'servers': len(servers), 'switches': cols}
    try:
        net.start()
        first, last = net['h1'], net[f'h{cols}']
        row['ping'] = first_ping(first, last.IP())
        row['up_s'] = time.monotonic() - started
        row['memory_mb'] = before - available_mb()
        row['mb_per_node'] = row['memory_mb'] / (2 * cols)
        row['tunnels'] = sum(1 for link in net.links if getattr(link, 'tunnel', None))
        if traffic and row['ping']:
            busy = busy_seconds()
            began = time.monotonic()
            goodput = tcp_goodput(first, last, seconds=TRAFFIC_SECONDS) / 1e6
            spent = (busy_seconds() - busy) / (time.monotonic() - began)
            row.update(goodput_mbps=goodput, cpu_cores=spent, cpu_per_100mbps=spent / goodput * 100)
    finally:
        stopping = time.monotonic()
        net.stop()
        row['stop_s'] = time.monotonic() - stopping
    return row


def run_cluster_bench(as_json: bool = False) -> int:
    from testbed.cluster.fake import FakeCluster
    log = lambda message: print(f'testbed: bench cluster {message}', file=sys.stderr, flush=True)  # noqa: E731
    rows = []
    with FakeCluster(2) as fake, fake.reachable():
        for cols in SIZES:
            for servers in (fake.addresses[:1], fake.addresses):
                log(f'grid 1 x {cols} on {len(servers)} server(s)')
                rows.append(one_case(servers, cols, traffic=cols == SIZES[0]))
    if as_json:
        print(json.dumps(rows, indent=2))
    else:
        print_table(rows)
    return 0 if all(row['ping'] for row in rows) else 1


def print_table(rows) -> None:
    print('routed 1 x N grid, router app, on fake servers sharing this machine; up = until h1 pings hN; memory = '
          'MemAvailable drop once up')
    print(f'  {"case":<22} {"up s":>6} {"stop s":>7} {"memory MB":>9} {"MB/node":>8}  traffic h1 -> hN')
    for row in rows:
        case = f'1 x {row["switches"]}, {row["servers"]} server' + ('s' if row['servers'] > 1 else '')
        traffic = (f'{row["goodput_mbps"]:.1f} Mb/s for {row["cpu_cores"]:.2f} cores: '
                   f'{row["cpu_per_100mbps"]:.2f} cores per 100 Mb/s'
                   + (f' ({row["tunnels"]} ssh tunnel on the path)' if row['tunnels'] else '')
                   if 'goodput_mbps' in row else '')
        print(f'  {case:<22} {row["up_s"]:>6.1f} {row["stop_s"]:>7.1f} {row["memory_mb"]:>9.0f} '
              f'{row["mb_per_node"]:>8.2f}  ' + ('' if row['ping'] else 'PING FAILED ') + traffic)
