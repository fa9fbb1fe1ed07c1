"""Control plane vs data plane: time per packet forwarded against time per network event, and a reconvergence."""
import json
import re
import statistics
import threading
import time

import networkx as nx

from testbed.control.flows import graph_from_plan, reconvergence_flow_mods
from testbed.reports.experiment import Experiment, Quantity, hbars
from testbed.measure.probes import ping_rtts, rtt_summary, traceroute_hops
from topologies.control import RingTopo

CUT = ('s1', 's2')
FAILOVER_PING_INTERVAL_S = 0.001


def _plan(net):
    with open(net.run.path('plan.json')) as handle:
        return json.load(handle)


def _graphs(plan):
    before = graph_from_plan(plan)
    after = before.copy()
    after.remove_edge(*CUT)
    return before, after


def theory(params):
    ring = nx.cycle_graph([f's{i}' for i in range(1, params['n'] + 1)])
    ring.remove_edge(*CUT)
    detour = len(nx.shortest_path(ring, 's1', 's2'))
    flow_mods = _prediction(params)
    return [
        Quantity('data plane: time per packet per switch', 0.5, 'ms', bound='max'),
        Quantity('control plane: time per event (compute + install)', 100.0, 'ms', bound='max'),
        Quantity('time per event / time per packet per switch', 10.0, 'x', bound='min'),
        Quantity('FlowMods pushed for the failure', flow_mods, '', absolute=0),
        Quantity('FlowMods pushed for the repair', flow_mods, '', absolute=0),
        Quantity('outage during failover', 100.0, 'ms', bound='max'),
        Quantity('switches on h1 -> h2 after the failure (traceroute)', detour, '', absolute=0),
    ]


def _per_switch_time(net, params, log):
    """Median RTT from h1 to h1+k for k = 1..n/2 (k + 1 switches): the slope per switch, halved, is the one-way
    time a packet spends per switch (and the link into it)."""
    points = []
    for k in range(1, params['n'] // 2 + 1):
        target = net[f'h{k + 1}']
        rtts = ping_rtts(net['h1'], target.IP(), count=params['pings'], interval=0.002)
        points.append((k + 1, rtt_summary(rtts)['median']))
    xs, ys = zip(*points)
    slope = statistics.linear_regression(xs, ys).slope
    log(f'  RTT by switches on the path: {", ".join(f"{x}: {y:.3f} ms" for x, y in points)}')
    return slope / 2, points


def _ping_in_background(host, address, count, interval):
    result = {}

    def run():
        output = host.cmd(f'ping -n -c {count} -i {interval} -W 1 {address}')
        match = re.search(r'(\d+) packets transmitted, (\d+) received', output)
        result['lost'] = int(match.group(1)) - int(match.group(2)) if match else count
    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def _wait_for_event(controller, count, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        timeline = controller.api.timeline()
        if len(timeline) > count and 'acknowledged' in timeline[-1]:
            return timeline[-1]
        time.sleep(0.05)
    return None


def measure(net, params, repetition, log):
    controller = net.controllers[0]
    per_switch_ms, points = _per_switch_time(net, params, log)
    h1, h2 = net['h1'], net['h2']
    h1.cmd(f'ping -n -c 3 -q {h2.IP()}')
    events = len(controller.api.timeline())
    thread, ping = _ping_in_background(h1, h2.IP(), 3000, FAILOVER_PING_INTERVAL_S)
    time.sleep(1.0)
    log(f'  cutting {"-".join(CUT)} under a {FAILOVER_PING_INTERVAL_S * 1e3:g} ms ping h1 -> h2')
    net.configLinkStatus(*CUT, 'down')
    thread.join(60)
    failure = _wait_for_event(controller, events)
    hops = traceroute_hops(h1, h2.IP())
    events = len(controller.api.timeline())
    net.configLinkStatus(*CUT, 'up')
    repair = _wait_for_event(controller, events, timeout=30)  # a link coming back is found again by LLDP
    plan = _plan(net)
    before, after = _graphs(plan)
    result = {'data plane: time per packet per switch': per_switch_ms,
              'outage during failover': ping.get('lost', 0) * FAILOVER_PING_INTERVAL_S * 1e3,
              'switches on h1 -> h2 after the failure (traceroute)': len(hops) - 1,
              'rtt by switches': points,
              'predicted FlowMods': sum(reconvergence_flow_mods(plan, before, after).values())}
    for name, event in (('failure', failure), ('repair', repair)):
        if event:
            result[f'FlowMods pushed for the {name}'] = event['flow_mods']
            result[f'{name} timeline'] = event
    if failure:
        event_ms = (failure['acknowledged'] - failure['received']) * 1e3
        result['control plane: time per event (compute + install)'] = event_ms
        result['time per event / time per packet per switch'] = event_ms / per_switch_ms if per_switch_ms > 0 \
            else None
    return result


def _prediction(params):
    """FlowMods expected for cutting s1-s2 of the ring: from the routing module on the ring's own graph and
    prefixes (one IPv4 and one IPv6 prefix per switch, as topologies.control.routed_host attaches)."""
    n = params['n']
    switches = {f's{i}': {'mac': f'0a:00:00:00:00:{i:02x}'} for i in range(1, n + 1)}
    links = [{'a': f's{i}', 'a_port': 2, 'b': f's{i % n + 1}', 'b_port': 3} for i in range(1, n + 1)]
    attachments = []
    for i in range(1, n + 1):
        attachments += [{'prefix': f'10.0.{i}.0/24', 'switch': f's{i}', 'port': 1, 'name': f'h{i}'},
                        {'prefix': f'2001:db8:{i:x}::/64', 'switch': f's{i}', 'port': 1, 'name': f'h{i}'}]
    plan = {'switches': switches, 'links': links, 'attachments': attachments}
    before, after = _graphs(plan)
    return sum(reconvergence_flow_mods(plan, before, after).values())


def notes(result):
    first = result['raw']['repetitions'][0]
    lines = ['The data plane forwards each packet by looking its destination up in the installed table; the control '
             'plane runs only on events (here a link going down and coming back) and then computes every switch\'s '
             'table and installs the changed entries. Time per packet per switch is half the slope of the median '
             'RTT against the number of switches on the path (it includes the veth link into each switch).', '',
             'Bounds: a software switch (veth + Open vSwitch) forwards a packet in well under 0.5 ms; one event '
             'must be handled within 100 ms (the failover target of the control-plane issue); and an event must cost '
             'at least ten times a packet\'s forwarding (an order of magnitude; hardware switches forward in '
             'nanoseconds, so there the gap is five or six orders). The FlowMod counts and the detour are exact.',
             '',
             '| switches on the path | median RTT |', '|---|---|']
    lines += [f'| {x} | {y:.3f} ms |' for x, y in first['rtt by switches']]
    for name in ('failure', 'repair'):
        event = first.get(f'{name} timeline')
        if event:
            received = event['received']
            lines += ['', f'Reconvergence timeline ({name}, "{event["event"]}"): computed +'
                      f'{(event["computed"] - received) * 1e3:.1f} ms, FlowMods sent +'
                      f'{(event["sent"] - received) * 1e3:.1f} ms, barriers acknowledged +'
                      f'{(event["acknowledged"] - received) * 1e3:.1f} ms; {event["flow_mods"]} FlowMods '
                      f'({event.get("algorithm")}).']
    lines += ['', f'The expected FlowMods ({first["predicted FlowMods"]} from the plan the controller used) are '
              'what routing.compute_routes changes between the ring with and without the cut link: only changed '
              'entries are pushed.']
    return lines


def plot(result, folder):
    first = result['raw']['repetitions'][0]
    bars = [('forward one packet\n(one switch)', first['data plane: time per packet per switch'], 'C0')]
    event = first.get('failure timeline')
    if event:
        received = event['received']
        bars += [('compute all tables', (event['computed'] - received) * 1e3, 'C1'),
                 ('send changed entries', (event['sent'] - event['computed']) * 1e3, 'C1'),
                 ('switches acknowledge', (event['acknowledged'] - event['sent']) * 1e3, 'C1'),
                 ('one event in all', (event['acknowledged'] - received) * 1e3, 'C3')]
    return hbars(folder, 'control-vs-data.png', bars, 'time (ms, log scale)', log=True)


EXPERIMENT = Experiment(
    name='control-vs-data-plane', title='Control plane vs data plane: per packet vs per event',
    model='The data plane works per packet and locally: a table lookup and a forward, microseconds here (nanoseconds '
          'in hardware). The control plane works per network event and globally: it needs the whole topology to '
          'recompute the tables, then installs what changed in every affected switch; that takes milliseconds, '
          'which is fine because events are rare. A link failure in a ring shows the whole cycle.',
    topology=lambda params: RingTopo(n=params['n']), controller='router', theory=theory, measure=measure,
    repetitions=1, plot=plot, notes=notes, params={'n': 8, 'pings': 200},
    ranges={'n': (4, 64, 'whole'), 'pings': (10, 10000, 'whole')})  # n: a ring with a detour and two path lengths
