"""``testbed bench control``: what the control plane costs, per network event.

1. Offline (pure): the time to compute every switch's table with link-state (Dijkstra) and distance-vector
   (Bellman-Ford rounds) on grids of growing size, and the rounds distance-vector needed.
2. Live, under the Ryu router app, from the moment every switch is connected and every link discovered: the time
   to compute all tables, to send the FlowMods, and until every switch acknowledged its barrier, read from the
   controller's timeline. Two 100-switch topologies: a chain (the scale topology: 100 switches, hosts at the ends)
   and a 10 x 10 grid with a host on every switch (the stress case: 200 prefixes, 20,000 FlowMods). Target: under
   1 s from connected to installed.
"""
import json
import sys
import time

import networkx as nx

from testbed.control.routing import Attachment, compute_routes

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


def live_row(name, topo, far_address, log=lambda message: None):
    from testbed.network.net import running
    started = time.monotonic()
    log(f'live: building {name} with the Ryu router (this takes a while)')
    with running(topo, controller='router', label='benchcontrol') as net:
        up = time.monotonic() - started
        initial = net.controllers[0].api.timeline()[0]
        lost = net['h1'].cmd(f'ping -c 3 -i 0.2 -q {far_address}')
        switches = len(net.switches)
    compute = initial['computed'] - initial['received']
    send = initial['sent'] - initial['computed']
    ack = initial['acknowledged'] - initial['sent']
    return {'topology': name, 'switches': switches, 'network_up_s': up, 'compute_ms': compute * 1e3,
            'send_ms': send * 1e3, 'ack_ms': ack * 1e3, 'total_ms': (compute + send + ack) * 1e3,
            'flow_mods': initial['flow_mods'], 'end_to_end_ping': '0% packet loss' in lost,
            'pass': compute + send + ack < LIVE_TARGET_S}


def live_rows(log):
    from topologies.control import ChainTopo, GridTopo
    return [live_row('chain of 100 switches', ChainTopo(n=100), '10.0.2.10', log),
            live_row('10 x 10 grid, a host per switch', GridTopo(rows=10, cols=10), '10.0.100.10', log)]


def run_control_bench(as_json=False, live=True):
    log = lambda message: print(f'testbed: bench control {message}', file=sys.stderr, flush=True)  # noqa: E731
    offline = offline_rows()
    result = {'offline': offline, 'live': live_rows(log) if live else []}
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        print('route computation (pure, no switches): grids, one /24 per switch')
        print(f'  {"switches":>8} {"algorithm":<16} {"compute ms":>10} {"rounds":>6} {"entries":>8}')
        for row in offline:
            print(f'  {row["switches"]:>8} {row["algorithm"]:<16} {row["compute_ms"]:>10.1f} {row["rounds"]:>6} '
                  f'{row["entries"]:>8}')
        if result['live']:
            print(f'\nlive (from all switches connected and links discovered; target < {LIVE_TARGET_S * 1e3:.0f} ms):')
            print(f'  {"topology":<34} {"up s":>5} {"FlowMods":>8} {"compute":>8} {"send":>7} {"ack":>7} '
                  f'{"total ms":>8}')
            for row in result['live']:
                print(f'  {row["topology"]:<34} {row["network_up_s"]:>5.0f} {row["flow_mods"]:>8} '
                      f'{row["compute_ms"]:>8.0f} {row["send_ms"]:>7.0f} {row["ack_ms"]:>7.0f} {row["total_ms"]:>8.0f}'
                      f'  {"ok" if row["pass"] else "OFF"}; ping end to end '
                      f'{"ok" if row["end_to_end_ping"] else "FAILED"}')
    return 0 if all(row['pass'] and row['end_to_end_ping'] for row in result['live']) else 1
