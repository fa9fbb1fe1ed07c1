"""Circuit vs packet switching: the same workload with reservations and best effort, on the lecture's four axes."""
import math
import re
import subprocess
import time

from testbed.errors import TestbedError
from testbed.reports.experiment import Experiment, Quantity, axes, check_duration, first_repetition, save
from testbed.measure.probes import onoff_run
from testbed.measure.multiplexing import call_events, erlang_b, loss_system, onoff_schedule
from testbed.measure.onoff import FRAME
from topologies.control import BottleneckTopo

CIRCUIT_SOURCE, BEST_EFFORT_SOURCE = 1, 2
PING_INTERVAL_S = 0.01


def _loads(params):
    try:
        loads = [float(part) for part in str(params['loads']).split(',') if part.strip()]
    except ValueError:
        loads = []
    if not loads or min(loads) <= 0:
        raise TestbedError(f'experiment \'circuit-vs-packet\': parameter loads={params["loads"]!r} must list offered '
                           'loads in erlangs above 0, comma-separated')
    return loads


def check(params):
    _loads(params)
    check_duration('circuit-vs-packet', params['slots'] * params['slot_ms'] / 1e3, 'slots x slot_ms')
    if params['call_mbps'] > params['bw'] or params['onoff_mbps'] >= params['bw']:
        raise TestbedError('experiment \'circuit-vs-packet\': call_mbps and onoff_mbps must fit in bw '
                           '(onoff_mbps below it, so best effort keeps some capacity)')


def _circuits(params):
    return int(params['bw'] // params['call_mbps'])


def theory(params):
    capacity, rate, p, flood = params['bw'], params['onoff_mbps'], params['p_on'], params['flood_mbps']
    m, calls = _circuits(params), params['calls']
    quantities = []
    for load in _loads(params):
        blocking = erlang_b(m, load)
        spread = 3 * 1.5 * math.sqrt(blocking * (1 - blocking) / calls)  # x1.5: calls of a busy period correlate
        quantities += [Quantity(f'A={load:g} erlangs: blocking probability', blocking, '', absolute=spread),
                       Quantity(f'A={load:g} erlangs: decisions equal to a {m}-circuit loss system', 1.0, '',
                                absolute=0.0)]
    # While both send, the link is overloaded. Even the fairest switch (a max-min share of C / 2 per input) drops
    # (r - C / 2) / r of the bursty source when r > C / 2; a FIFO fed in arrival order would drop (r + f - C) / (r + f)
    # of every input; the real share depends on the order the switch serves its inputs, so only the floor is checked.
    fair = 100 * max(0.0, rate - capacity / 2) / rate
    offered = rate * p + flood
    quantities += [
        Quantity('circuit: bursty source loss', 0.0, '%', absolute=1.0),
        Quantity('circuit: best effort delivered', capacity - rate, 'Mb/s', relative=0.05),
        Quantity('circuit: link utilisation', (capacity - rate + p * rate) / capacity, '', absolute=0.05),
        Quantity('packet: bursty source loss', fair, '%', absolute=2.0, bound='min'),
        Quantity('packet: all traffic lost', 100 * max(0.0, offered - capacity) / offered, '%', absolute=3.0),
        Quantity('packet: link utilisation', 1.0, '', absolute=0.05),
        Quantity('failure: circuits torn down', 1, '', absolute=0),
        Quantity('failure: best-effort outage', 100.0, 'ms', bound='max'),
    ]
    return quantities


# -- part 1: blocking (admission control through the controller's REST API) --------------------------------------

def blocking(net, params, log):
    controller = net.controllers[0]
    m, rate = _circuits(params), params['call_mbps'] * 1e6
    result, latencies = {}, []
    pairs = (('h1', 'h3'), ('h2', 'h4'))
    for index, load in enumerate(_loads(params)):
        events = call_events(params['calls'], load, 1.0, params['seed'] + index)
        log(f'  {params["calls"]} calls at {load:g} erlangs against {m} circuits')
        admitted, ids = {}, {}
        for _, kind, call in events:
            if kind == 'arrive':
                src, dst = pairs[call % 2]
                started = time.monotonic()
                status, answer = controller.api.reserve(src, dst, rate)
                latencies.append(time.monotonic() - started)
                if status == 200:
                    ids[call] = answer['id']
                elif status != 409:
                    raise TestbedError(f'circuit request failed ({status}): {answer}')
                admitted[call] = status == 200
            elif call in ids:
                status, answer = controller.api.teardown(ids.pop(call))
                if status != 200:
                    raise TestbedError(f'teardown failed ({status}): {answer}')
        blocked = sum(1 for ok in admitted.values() if not ok)
        _, _, model = loss_system(events, m)
        result[f'A={load:g} erlangs: blocking probability'] = blocked / len(admitted)
        result[f'A={load:g} erlangs: decisions equal to a {m}-circuit loss system'] = \
            sum(admitted[call] == model[call] for call in admitted) / len(admitted)
    latencies.sort()
    result['reservation latency median (ms)'] = 1e3 * latencies[len(latencies) // 2]
    return result


# -- part 2: efficiency and guarantees (the same bursty source, with and without a circuit) ----------------------

def _stream(net, params, log):
    """A bursty source h1 -> h3 (on/off at onoff_mbps) and a greedy best-effort flood h2 -> h3, both counted at h3."""
    sink, slot_s = net['h3'], params['slot_ms'] / 1e3
    pattern = onoff_schedule(1, params['slots'], params['p_on'], params['seed'])[0]
    sources = [(net['h1'], CIRCUIT_SOURCE, pattern, params['onoff_mbps'] * 1e6),
               (net['h2'], BEST_EFFORT_SOURCE, '1' * params['slots'], params['flood_mbps'] * 1e6)]
    record, start = onoff_run(sink, sources, slot_s, params['slots'])
    duration = params['slots'] * slot_s
    received = {CIRCUIT_SOURCE: 0, BEST_EFFORT_SOURCE: 0}
    within = {CIRCUIT_SOURCE: 0, BEST_EFFORT_SOURCE: 0}  # arrived during the run: what the link carried then
    for source, _, _, arrived in record['packets']:
        received[source] = received.get(source, 0) + 1
        if start <= arrived / 1e9 < start + duration:
            within[source] = within.get(source, 0) + 1
    sent = {int(source): total for source, total in record['totals'].items()}
    return {'loss': 100 * (1 - received[CIRCUIT_SOURCE] / sent[CIRCUIT_SOURCE]) if sent.get(CIRCUIT_SOURCE) else None,
            'sent': sum(sent.values()), 'received': sum(received.values()),
            'bursty Mb/s': within[CIRCUIT_SOURCE] * FRAME * 8 / duration / 1e6,
            'best effort Mb/s': within[BEST_EFFORT_SOURCE] * FRAME * 8 / duration / 1e6}


def efficiency(net, params, log):
    controller, result = net.controllers[0], {}
    for mode in ('circuit', 'packet'):
        circuit = None
        if mode == 'circuit':
            status, circuit = controller.api.reserve('h1', 'h3', params['onoff_mbps'] * 1e6)
            if status != 200:
                raise TestbedError(f'the circuit for the bursty source was refused: {circuit}')
        log(f'  {mode} switching: bursty {params["onoff_mbps"]} Mb/s source and a {params["flood_mbps"]} Mb/s flood')
        try:
            stream = _stream(net, params, log)
        finally:
            if circuit:
                controller.api.teardown(circuit["id"])
        result[f'{mode}: bursty source loss'] = stream['loss']
        result[f'{mode}: bursty source delivered (Mb/s)'] = stream['bursty Mb/s']
        result[f'{mode}: best effort delivered'] = stream['best effort Mb/s']
        result[f'{mode}: link utilisation'] = (stream['bursty Mb/s'] + stream['best effort Mb/s']) / params['bw']
        result[f'{mode}: all traffic lost'] = 100 * (1 - stream['received'] / stream['sent'])
    return result


# -- part 3: a failure ------------------------------------------------------------------------------------------

def failure(net, params, log):
    controller = net.controllers[0]
    status, circuit = controller.api.reserve('h1', 'h3', 2e6)
    if status != 200:
        raise TestbedError(f'circuit refused: {circuit}')
    count = 300
    pinger = net['h2'].popen(['ping', '-n', '-i', str(PING_INTERVAL_S), '-c', str(count), '-W', '1',
                              net['h4'].IP()], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(1.0)
    log('  cutting s1-s2 under a 10 ms ping h2 -> h4 and a circuit h1 -> h3')
    net.configLinkStatus('s1', 's2', 'down')
    output, _ = pinger.communicate(timeout=count * PING_INTERVAL_S + 30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and controller.api.circuits()['circuits']:
        time.sleep(0.1)
    timeline = controller.api.timeline()
    net.configLinkStatus('s1', 's2', 'up')
    match = re.search(r'(\d+) packets transmitted, (\d+) received', output)
    lost = int(match.group(1)) - int(match.group(2)) if match else count
    torn = [entry for entry in timeline if entry.get('circuits_torn_down')]
    return {'failure: circuits torn down': len(torn[-1]['circuits_torn_down']) if torn else 0,
            'failure: best-effort outage': lost * PING_INTERVAL_S * 1e3,
            'failure: timeline': torn[-1] if torn else None}


def measure(net, params, repetition, log):
    result = blocking(net, params, log)
    result.update(efficiency(net, params, log))
    result.update(failure(net, params, log))
    return result


def notes(result):
    params, first = first_repetition(result)
    m = _circuits(params)
    rate, flood, capacity = params['onoff_mbps'], params['flood_mbps'], params['bw']
    fair = 100 * max(0.0, rate - capacity / 2) / rate
    fifo = 100 * max(0.0, rate + flood - capacity) / (rate + flood)
    lines = [f'Blocking: Poisson calls of {params["call_mbps"]} Mb/s on a {params["bw"]} Mb/s link ({m} circuits), '
             f'{params["calls"]} calls per load, exponential holding times, replayed in event order against the '
             'controller (blocking depends only on the order of arrivals and departures, so the replay is not held to '
             'wall-clock time). Tolerance: 3 standard deviations of a proportion over the calls, widened by 1.5 '
             'because the calls of one busy period are not independent. Every admission decision is also compared '
             'with a loss-system replay of the same events: they must all agree.', '',
             f'Efficiency: a bursty source (on/off, {params["onoff_mbps"]} Mb/s peak, on {params["p_on"]:.0%} of '
             f'{params["slot_ms"]} ms slots) and a greedy best-effort flood of {params["flood_mbps"]} Mb/s share the '
             'link. With a circuit the bursty source loses nothing, but best effort is policed to what the '
             'reservation leaves even while the circuit is idle, so the link idles; with packet switching the flood '
             'fills every gap (utilisation 1) but nothing protects the bursty source: while it is on the link is '
             f'overloaded, and even the fairest switch (a max-min share of C / 2 per input) would drop (r - C/2) / r '
             f'= {fair:.1f} % of its packets (the floor checked here); a FIFO serving packets in arrival order would '
             f'drop (r + f - C) / (r + f) = {fifo:.1f} % of every input. Where it lands depends on the order the '
             'switch serves its inputs (Open vSwitch polls its ports in batches). The loss of all traffic together '
             'does not depend on that order: (offered - C) / offered.', '',
             '## The lecture\'s four dimensions, measured', '',
             '| | circuit switching | packet switching |', '|---|---|---|',
             f'| abstraction | guaranteed rate: bursty source lost {first["circuit: bursty source loss"]:.1f} % | '
             f'best effort: bursty source lost {first["packet: bursty source loss"]:.1f} % |',
             f'| efficiency | utilisation {first["circuit: link utilisation"]:.2f}; calls refused (Erlang-B) | '
             f'utilisation {first["packet: link utilisation"]:.2f}; nobody refused |',
             f'| failures | the circuit crossing the cut link was torn down '
             f'({first["failure: circuits torn down"]:.0f}) and must be re-requested | best effort rerouted over the '
             f'detour: {first["failure: best-effort outage"]:.0f} ms of lost pings |',
             f'| complexity | per-circuit state in every switch on the path, meters on its links, a reservation '
             f'round trip of {first["reservation latency median (ms)"]:.1f} ms (median) | per-destination '
             'tables only |']
    event = first.get('failure: timeline')
    if event:
        lines += ['', f'Failure timeline ("{event["event"]}"): computed '
                  f'+{(event["computed"] - event["received"]) * 1e3:.1f} ms, FlowMods sent '
                  f'+{(event["sent"] - event["received"]) * 1e3:.1f} ms, acknowledged '
                  f'+{(event["acknowledged"] - event["received"]) * 1e3:.1f} ms; {event["flow_mods"]} FlowMods; '
                  f'circuits torn down: {event.get("circuits_torn_down")}.']
    return lines


def plot(result, folder):
    params, first = first_repetition(result)
    m = _circuits(params)
    figure, axis = axes()
    span = [x / 10 for x in range(1, 81)]
    axis.plot(span, [erlang_b(m, a) for a in span], 'k--', label=f'Erlang-B, {m} circuits')
    loads = _loads(params)
    axis.scatter(loads, [first[f'A={a:g} erlangs: blocking probability'] for a in loads], color='C0', zorder=3,
                 label='measured (controller admission)')
    return save(figure, axis, folder, 'blocking.png', 'offered load (erlangs)', 'blocking probability')


EXPERIMENT = Experiment(
    name='circuit-vs-packet', title='Circuit vs packet switching',
    model='Circuit switching reserves a rate along the path before sending (admission control): a call that finds '
          'no capacity is refused, with the Erlang-B probability B(m, A) for m circuits offered A erlangs of '
          'Poisson calls; an admitted call keeps its rate whatever others send, but capacity it leaves idle is '
          'wasted, and a failure ends it. Packet switching admits everyone, fills the link, and reroutes around '
          'failures, but guarantees nothing.',
    topology=lambda params: BottleneckTopo(bw=params['bw'], max_queue_size=params['queue'], backup=True),
    controller='router', theory=theory,
    measure=measure, repetitions=1, plot=plot, notes=notes, check=check,
    params={'bw': 10, 'call_mbps': 2.5, 'loads': '1,2,4,6', 'calls': 400, 'onoff_mbps': 6, 'flood_mbps': 12,
            'p_on': 0.3, 'slot_ms': 50, 'slots': 120, 'queue': 50, 'seed': 1},
    ranges={'bw': (0.1, 1000), 'call_mbps': (0.01, 1000), 'calls': (1, 10000, 'whole'), 'onoff_mbps': (0.01, 1000),
            'flood_mbps': (0.01, 1000), 'p_on': (0.01, 1), 'slot_ms': (1, 10000), 'slots': (1, 10000, 'whole'),
            'queue': (1, 100000, 'whole'), 'seed': (0, 2**31, 'whole')})
