"""``testbed bench control``: what the control plane costs, per network event.

1. Offline (pure): the time to compute every switch's table with link-state (Dijkstra) and distance-vector
   (Bellman-Ford rounds) on grids of growing size, and the rounds distance-vector needed.
2. Live: a 10 x 10 grid (100 switches, 100 hosts) under the Ryu router app: from the moment every switch is
   connected and every link discovered, the time to compute all tables and to install them (FlowMods sent until
   every switch acknowledged its barrier), read from the controller's timeline. Target: under 1 s in all.
"""
import json
import sys
import time

import networkx as nx

from testbed.routing import Attachment, compute_routes

LIVE_TARGET_S = 1.0


def grid_graph(rows, cols):
    graph = nx.Graph()
    attachments = []
    for index in range(1, rows * cols + 1):
        graph.add_node(f's{index}')
        attachments.append(Attachment(f'10.{index // 256}.{index % 256}.0/24', f's{index}', 1, f'h{index}'))
    for index in range(1, rows * cols + 1):
        if index % cols:
            graph.add_edge(f's{index}', f's{index + 1}', ports={f's{index}': 2, f's{index + 1}': 3})
        if index + cols <= rows * cols:
            graph.add_edge(f's{index}', f's{index + cols}', ports={f's{index}': 4, f's{index + cols}': 5})
    return graph, attachments


def offline_rows(sizes=(5, 10, 15, 20)):
    rows = []
    for side in sizes:
        graph, attachments = grid_graph(side, side)
        for algorithm in ('link-state', 'distance-vector'):
            started = time.perf_counter()
            result = compute_routes(graph, attachments, algorithm=algorithm)
            seconds = time.perf_counter() - started
            entries = sum(len(table) for table in result.tables.values())
            rows.append({'switches': side * side, 'algorithm': algorithm, 'compute_ms': seconds * 1e3,
                         'rounds': result.rounds, 'entries': entries})
    return rows


def live_row(rows=10, cols=10, log=lambda message: None):
    from testbed.net import running
    from topologies.control import GridTopo
    started = time.monotonic()
    log(f'live: building a {rows} x {cols} grid with the Ryu router (this takes a while)')
    with running(GridTopo(rows=rows, cols=cols), controller='router', label='benchcontrol') as net:
        up = time.monotonic() - started
        initial = net.controllers[0].rest('/testbed/timeline')[0]
        lost = net['h1'].cmd(f'ping -c 3 -i 0.2 -q 10.0.{rows * cols}.10')
    compute = initial['computed'] - initial['received']
    install = initial['acknowledged'] - initial['computed']
    return {'switches': rows * cols, 'network_up_s': up, 'compute_ms': compute * 1e3, 'install_ms': install * 1e3,
            'total_ms': (compute + install) * 1e3, 'flow_mods': initial['flow_mods'],
            'corner_to_corner_ping': '0% packet loss' in lost, 'pass': compute + install < LIVE_TARGET_S}


def run_control_bench(as_json=False, live=True):
    log = lambda message: print(f'testbed: bench control {message}', file=sys.stderr, flush=True)  # noqa: E731
    offline = offline_rows()
    result = {'offline': offline, 'live': live_row(log=log) if live else None}
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        print('route computation (pure, no switches): grids, one /24 per switch')
        print(f'  {"switches":>8} {"algorithm":<16} {"compute ms":>10} {"rounds":>6} {"entries":>8}')
        for row in offline:
            print(f'  {row["switches"]:>8} {row["algorithm"]:<16} {row["compute_ms"]:>10.1f} {row["rounds"]:>6} '
                  f'{row["entries"]:>8}')
        if result['live']:
            row = result['live']
            print(f'\nlive, {row["switches"]} switches (network up in {row["network_up_s"]:.0f} s): compute '
                  f'{row["compute_ms"]:.0f} ms + install {row["install_ms"]:.0f} ms ({row["flow_mods"]} FlowMods, '
                  f'until every barrier acknowledged) = {row["total_ms"]:.0f} ms; target < {LIVE_TARGET_S * 1e3:.0f} '
                  f'ms: {"ok" if row["pass"] else "OFF"}; corner-to-corner ping '
                  f'{"ok" if row["corner_to_corner_ping"] else "FAILED"}')
    return 0 if not result['live'] or (result['live']['pass'] and result['live']['corner_to_corner_ping']) else 1
