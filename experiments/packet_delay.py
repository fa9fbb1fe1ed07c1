"""The lecture's packet delay: transmission (size / rate) + propagation, on Link-1 and Link-2, one way."""
from testbed.measure import theory as textbook
from testbed.measure.fidelity import emulation_allowance_ms
from testbed.measure.probes import udp_probe
from testbed.reports.experiment import Experiment, Quantity, axes, save
from topologies.lecture import LINK_1, LINK_2, LectureLinksTopo

SIZES = (24, 1000, 5000, 10000)      # UDP payload bytes; 24 is the smallest timestamped probe (the lecture's 10 B)
LINKS = (('Link-1', 'h1', 'h2', LINK_1), ('Link-2', 'h3', 'h4', LINK_2))


def wire_bytes(size):
    """(bytes on the wire, frames) of one UDP datagram of ``size`` payload bytes."""
    frames = textbook.udp_frames(size)
    return sum(frames), len(frames)


def lecture_ms(size, rate_bps, delay_s):
    """The lecture's L/R + d, with L the whole datagram as it crosses the wire: its fragments go back to back, and
    the last one arrives when all of them have been transmitted and it has propagated."""
    return textbook.packet_delay_s(wire_bytes(size)[0], rate_bps, delay_s) * 1e3


def _link(shaping):
    return float(shaping['bw']) * 1e6, float(shaping['delay'].rstrip('ms')) / 1e3


def theory(params):
    # 0 on a real CPU; under an emulated one, the measured lateness of the timer that releases the last frame
    # (scheduled on the serialiser's own clock, so earlier late releases do not add up) and of the shaper's
    allowance = emulation_allowance_ms()
    quantities = []
    for name, _, _, shaping in LINKS:
        rate, delay = _link(shaping)
        late_delay = emulation_allowance_ms(delay * 1e3)
        for size in SIZES:
            quantities.append(Quantity(f'{name} {size} B one-way delay', lecture_ms(size, rate, delay), 'ms',
                                       absolute=0.4 + late_delay + allowance, relative=0.02))
    return quantities


def _median_delay(net, left, right, size, probes):
    summary = udp_probe(net[left], net[right], packets=probes, rate=5, size=size)
    return summary.get('delay_ms', {}).get('median')


def measure(net, params, repetition, log):
    """Each link's median one-way delay per size, minus the same probe's on the unshaped reference link h5 - h6
    (sender stamping, the stack, receiver wake-up: ~0.05 ms here, ~1-2 ms under an emulated CPU)."""
    result = {}
    for size in SIZES:
        baseline = _median_delay(net, 'h5', 'h6', size, params['probes'])
        result[f'reference link {size} B'] = baseline
        for name, left, right, _ in LINKS:
            raw = _median_delay(net, left, right, size, params['probes'])
            result[f'{name} {size} B raw'] = raw
            result[f'{name} {size} B one-way delay'] = None if raw is None or baseline is None else raw - baseline
    return result


def notes(result):
    first = result['raw']['repetitions'][0]
    lines = ['| link | size | L/R | L/R + d (expected) | measured median (raw - reference) |',
             '|---|---|---|---|---|']
    rows = {row['quantity']: row for row in result['raw']['rows']}
    for name, _, _, shaping in LINKS:
        rate, delay = _link(shaping)
        for size in SIZES:
            row = rows[f'{name} {size} B one-way delay']
            measured = '-' if row['measured'] is None else (
                f'{row["measured"]:.2f} ms ({first[f"{name} {size} B raw"]:.2f} - '
                f'{first[f"reference link {size} B"]:.2f})')
            lines.append(f'| {name} | {size} B ({wire_bytes(size)[0]} B on the wire in {wire_bytes(size)[1]} '
                         f'frame(s)) | {lecture_ms(size, rate, 0.0):.2f} ms | {row["expected"]:.2f} ms | '
                         f'{measured} |')
    lines += ['', 'The lecture: a 10-byte packet takes ~10 ms on Link-1 and ~1 ms on Link-2 (propagation dominates); '
              'a 10,000-byte one ~18 ms vs ~81 ms (transmission dominates on the narrow link). L here is what '
              'crosses the wire: the UDP datagram in IPv4 fragments of at most 1480 data bytes, each with 34 bytes '
              'of IPv4 and Ethernet header. The links serialise each frame (netem rate on the kernel path, the '
              'delay line on the userspace one): a frame takes its bytes / R after the previous one, then the '
              'propagation delay, so the last fragment arrives L/R + d after the first bit left. Measured one way: '
              'the namespaces share one clock; the same probe on an unshaped reference link (h5 - h6) is '
              'subtracted, so what is compared is the delay the link adds. Tolerance: 0.4 ms or 2 %, whichever is '
              'larger (the delay line\'s or netem\'s timer), plus, on an emulated CPU, the measured lateness of the '
              'timers that release the last frame.']
    return lines


def plot(result, folder):
    rows = {row['quantity']: row for row in result['raw']['rows']}
    figure, axis = axes()
    for (name, _, _, shaping), color in zip(LINKS, ('C0', 'C1')):
        rate, delay = _link(shaping)
        sizes = list(range(0, 10001, 250))
        axis.plot(sizes, [lecture_ms(s, rate, delay) for s in sizes], color=color, label=f'{name}: L/R + d')
        axis.scatter(SIZES, [rows[f'{name} {s} B one-way delay']['measured'] or 0 for s in SIZES], color=color,
                     marker='o', zorder=3, label=f'{name}: measured')
    return save(figure, axis, folder, 'packet-delay.png', 'UDP payload (bytes)', 'one-way delay (ms)', legend_size=7)


EXPERIMENT = Experiment(
    name='packet-delay', title='Packet delay = transmission + propagation (the lecture\'s Link-1 and Link-2)',
    model='A packet of L bits on a link of rate R and propagation delay d arrives L/R + d after its first bit left. '
          'Link-1: 10 Mb/s, 10 ms; Link-2: 1 Mb/s, 1 ms. Small packets: propagation dominates; large ones: '
          'transmission does, on the narrow link.',
    topology=lambda params: LectureLinksTopo(reference=True), theory=theory, measure=measure,
    params={'probes': 20}, ranges={'probes': (1, 1000, 'whole')},
    repetitions=2, plot=plot, notes=notes)
