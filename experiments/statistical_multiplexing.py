"""Statistical multiplexing: N bursty sources share one link; the aggregate's peak is far below the sum of peaks."""
import math

from testbed.errors import TestbedError
from testbed.measure.theory import full_frame
from testbed.reports.experiment import Experiment, Quantity, axes, check_duration, first_repetition, save
from testbed.measure.probes import onoff_run
from testbed.measure.multiplexing import (binomial_quantile, fluid_queue, multiplexing_summary, offered_per_slot,
                                  onoff_schedule, slot_rates)
from testbed.measure.onoff import FRAME, frames_per_slot
from topologies.basic import FanInTopo

QUANTILE = 0.99  # "peak of the aggregate": its 99th percentile over the slots (the maximum of a sample is noise)
PROVISIONING = ('sum of peaks', 'peak of aggregate', 'sum of averages')


def _counts(params):
    counts = params['counts']
    try:
        values = [int(part) for part in str(counts).split(',') if part.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1 or max(values) > params['sources']:
        raise TestbedError(f'experiment \'statistical-multiplexing\': parameter counts={counts!r} must list source '
                           f'counts between 1 and sources={params["sources"]}, comma-separated')
    return sorted(set(values))


def check(params):
    check_duration('statistical-multiplexing', params['slots'] * params['slot_ms'] / 1e3, 'slots x slot_ms')
    _counts(params)


def _peak(params):
    # What a source really sends while on: whole frames per slot (testbed.measure.onoff), so rounding is counted.
    return frames_per_slot(params['peak_mbps'] * 1e6, params['slot_ms'] / 1e3) * FRAME * 8 / (params['slot_ms'] / 1e3)


def capacities(params):
    """Link capacity (bits/s) for each provisioning of the largest N."""
    n, p, peak = params['sources'], params['p_on'], _peak(params)
    return {'sum of peaks': n * peak, 'peak of aggregate': binomial_quantile(n, p, QUANTILE) * peak,
            'sum of averages': n * p * peak}


def _schedule(params):
    return onoff_schedule(params['sources'], params['slots'], params['p_on'], params['seed'])


def _buffer_bits(params):
    return params['queue'] * FRAME * 8


def expected_loss(params, capacity):
    """The fluid-queue loss (%) of this run's own on/off schedule at ``capacity`` with the link's buffer."""
    offered = offered_per_slot(_schedule(params), _peak(params))
    return 100 * fluid_queue(offered, capacity, _buffer_bits(params), params['slot_ms'] / 1e3)['lost_fraction']


def theory(params):
    n_max, p, peak, slots = params['sources'], params['p_on'], _peak(params) / 1e6, params['slots']
    quantities = []
    for n in _counts(params):
        spread = 3 * peak * math.sqrt(n * p * (1 - p) / slots)  # 3 sigma of a mean over `slots` slots
        quantities += [
            Quantity(f'N={n}: sum of peaks', n * peak, 'Mb/s', relative=0.05),
            Quantity(f'N={n}: peak of aggregate', binomial_quantile(n, p, QUANTILE) * peak, 'Mb/s',
                     absolute=peak + 0.02 * n * peak),
            Quantity(f'N={n}: sum of averages', n * p * peak, 'Mb/s', absolute=spread + 0.02 * n * p * peak)]
    for name, capacity in capacities(params).items():
        quantities.append(Quantity(f'N={n_max}, link = {name}: loss', expected_loss(params, capacity), '%',
                                   absolute=1.0, relative=0.2))
    return quantities


def _run_sources(net, params, patterns, log):
    """Run sources h<id> with their on/off ``patterns`` ({id: pattern}) against the sink once; returns (the sink's
    record, start time)."""
    peak = params['peak_mbps'] * 1e6
    sources = [(net[f'h{index}'], index, pattern, peak) for index, pattern in patterns.items()]
    log(f'  {len(patterns)} source(s), {params["slots"] * params["slot_ms"] / 1e3:.0f} s of {params["slot_ms"]} ms '
        'slots')
    return onoff_run(net['sink'], sources, params['slot_ms'] / 1e3, params['slots'])


def _measure_run(net, params, count, log):
    patterns = dict(enumerate(_schedule(params)[:count], start=1))
    record, start = _run_sources(net, params, patterns, log)
    slot_s = params['slot_ms'] / 1e3
    packets = [(source, sent / 1e9, FRAME) for source, _, sent, _ in record['packets']]
    rates = slot_rates(packets, start, slot_s, params['slots'])
    summary = {key: value / 1e6
               for key, value in multiplexing_summary(rates, patterns, params['slots'], QUANTILE).items()}
    sent = sum(record['totals'].values())
    delays = [(received - sent_ns) / 1e6 for _, _, sent_ns, received in record['packets']]
    summary['sent'] = sent
    summary['received'] = len(record['packets'])
    summary['loss'] = 100 * (sent - len(record['packets'])) / sent if sent else 0.0
    summary['delays'] = delays
    return summary


def measure(net, params, repetition, log):
    link = net.linksBetween(net['s1'], net['s2'])[0]
    plan = capacities(params)
    result, runs = {}, {}
    link.set_rate(plan['sum of peaks'])
    for n in _counts(params):
        summary = _measure_run(net, params, n, log)
        runs[f'N={n}'] = summary
        for key, label in (('sum_of_peaks', 'sum of peaks'), ('peak_of_aggregate', 'peak of aggregate'),
                           ('sum_of_averages', 'sum of averages')):
            result[f'N={n}: {label}'] = summary[key]
    n_max = params['sources']
    base_delay = min(min(run['delays']) for run in runs.values() if run['delays'])
    for name, capacity in plan.items():
        if name == 'sum of peaks' and f'N={n_max}' in runs:
            summary = runs[f'N={n_max}']
        else:
            link.set_rate(capacity)
            log(f'  link at {capacity / 1e6:g} Mb/s ({name})')
            summary = _measure_run(net, params, n_max, log)
        delays = sorted(d - base_delay for d in summary['delays'])
        result[f'N={n_max}, link = {name}: loss'] = summary['loss']
        result[f'N={n_max}, link = {name}: mean queueing delay (ms)'] = sum(delays) / len(delays) if delays else None
        result[f'N={n_max}, link = {name}: capacity (Mb/s)'] = capacity / 1e6
    link.set_rate(plan['sum of peaks'])
    result['runs'] = {key: {k: v for k, v in run.items() if k != 'delays'} for key, run in runs.items()}
    return result


def notes(result):
    params, first = first_repetition(result)
    slot_s = params['slot_ms'] / 1e3
    offered = offered_per_slot(_schedule(params), _peak(params))
    lines = [f'Each source sends {FRAME}-byte frames at {_peak(params) / 1e6:g} Mb/s while on; it is on in a '
             f'{params["slot_ms"]} ms slot with probability {params["p_on"]} ({params["slots"]} slots, seed '
             f'{params["seed"]}). The peak of the aggregate is its {QUANTILE:.0%} quantile over the slots (expected: '
             'the binomial quantile; tolerance one source\'s peak, as the count of sources on is a whole number); '
             'a source\'s peak is its median rate over the slots it is on (the maximum would count a frame sent '
             'late into the next slot); '
             'the sum of averages is checked within three standard deviations of a mean over the slots.', '',
             f'Provisioning the link for N={params["sources"]} (buffer {params["queue"]} frames): the expected loss '
             'is that of a fluid queue fed this run\'s own schedule (tolerance 1 point or 20 %).', '',
             '| link provisioned for | capacity | loss measured | loss expected (fluid) | mean queueing delay '
             'measured | expected (fluid) |', '|---|---|---|---|---|---|']
    for name in PROVISIONING:
        key = f'N={params["sources"]}, link = {name}'
        capacity = first[f'{key}: capacity (Mb/s)'] * 1e6
        fluid = fluid_queue(offered, capacity, _buffer_bits(params), slot_s)
        lines.append(f'| {name} | {capacity / 1e6:g} Mb/s | {first[f"{key}: loss"]:.2f} % | '
                     f'{100 * fluid["lost_fraction"]:.2f} % | {first[f"{key}: mean queueing delay (ms)"]:.2f} ms | '
                     f'{fluid["mean_delay_s"] * 1e3:.2f} ms |')
    lines += ['', 'Provisioning for the sum of peaks never loses but the link idles most of the time; for the peak '
              'of the aggregate it loses little; for the sum of averages the bursts overflow the buffer. That gap '
              'between the sum of peaks and the peak of the aggregate is what packet switching exploits.']
    return lines


def plot(result, folder):
    params, first = first_repetition(result)
    counts = _counts(params)
    figure, axis = axes()
    for label, colour in (('sum of peaks', 'C3'), ('peak of aggregate', 'C0'), ('sum of averages', 'C2')):
        axis.plot(counts, [first[f'N={n}: {label}'] for n in counts], 'o', color=colour, label=f'{label} (measured)')
    peak, p = _peak(params) / 1e6, params['p_on']
    span = range(1, max(counts) + 1)
    axis.plot(span, [n * peak for n in span], '--', color='C3', label='N x peak')
    axis.plot(span, [binomial_quantile(n, p, QUANTILE) * peak for n in span], '--', color='C0',
              label=f'binomial {QUANTILE:.0%} quantile x peak')
    axis.plot(span, [n * p * peak for n in span], '--', color='C2', label='N x p x peak')
    return save(figure, axis, folder, 'multiplexing.png', 'number of on/off sources N', 'rate (Mb/s)')


EXPERIMENT = Experiment(
    name='statistical-multiplexing', title='Statistical multiplexing: sum of peaks vs peak of the aggregate',
    model='N independent on/off sources, each on with probability p and then sending at its peak P, share one '
          'link. Provisioning for the sum of peaks (N x P) never drops a packet; the aggregate\'s peak is far '
          'lower (the number of sources on is Binomial(N, p)), and the long-run load is only the sum of averages '
          '(N x p x P). A link of capacity C with a buffer loses what overflows a fluid queue fed the aggregate.',
    topology=lambda params: FanInTopo(n=params['sources'], bw=params['sources'] * params['peak_mbps'],
                                      max_queue_size=params['queue'], burst=full_frame()),
    theory=theory, measure=measure, repetitions=1, plot=plot, notes=notes, check=check,
    params={'sources': 16, 'counts': '1,2,4,8,16', 'peak_mbps': 1, 'p_on': 0.25, 'slot_ms': 50, 'slots': 160,
            'queue': 20, 'seed': 1},
    ranges={'sources': (1, 64, 'whole'), 'peak_mbps': (0.01, 100), 'p_on': (0.01, 0.99), 'slot_ms': (1, 10000),
            'slots': (1, 10000, 'whole'), 'queue': (1, 100000, 'whole'),
            'seed': (0, 2**31, 'whole')})  # sources: a host each
