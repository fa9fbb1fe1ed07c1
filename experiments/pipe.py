"""The pipe: a link holds bandwidth x delay bits; TCP fills it only when its window covers the bandwidth-delay
product."""
import re
import statistics
import subprocess

from testbed.measure import theory as textbook
from testbed.measure.probes import IPERF_PORT, ping_rtts, rtt_summary, tcp_goodput
from testbed.reports.experiment import Experiment, Quantity, axes, first_repetition, save
from topologies.basic import PairTopo

WINDOWS = (4, 8, 16, 32, 64, 128)  # kB of socket buffer on both ends (iperf3 -w)
PING_FRAME = textbook.ping_frame()  # ping's default 56 bytes: 98 on the wire
DATA_FRAME = textbook.full_frame()  # bytes on the wire of a full segment: 1514
ACK_FRAME = textbook.tcp_ack_frame()  # and of its ACK: 66
MSS = textbook.tcp_mss()  # a full segment's payload: 1448


def _rate_rtt(params):
    """The link's rate (b/s) and its propagation round trip (s)."""
    return float(params['bw']) * 1e6, 2 * float(params['delay_ms']) / 1e3


def segment_rtt(ping_rtt, rate):
    """The round trip a full TCP segment and its ACK take, from a ping's: the link serialises every frame, so a
    1514-byte segment and a 66-byte ACK spend longer on the wire than two 98-byte pings."""
    return ping_rtt + (DATA_FRAME + ACK_FRAME - 2 * PING_FRAME) * 8 / rate


def ack_clock_round(ping_rtt, rate):
    """How long a window takes to come back as ACKs: a segment's round trip, plus on average half a frame time.
    A receiver acknowledges every second full segment (RFC 5681 4.2), so the first of a pair waits for the second
    to cross the link (one frame time more), unless the application's read opened the window enough for Linux to
    announce it at once (none); which one happens depends on when the reader runs, so the model takes the middle
    and the tolerance covers both ends."""
    return segment_rtt(ping_rtt, rate) + DATA_FRAME * 8 / rate / 2


def usable_window(window, mss):
    """What a window lets a sender have in flight: whole segments only (sender-side silly-window avoidance keeps
    a sender from sending a partial segment while data waits), so floor(window / MSS) x MSS."""
    return (window // mss) * mss


def start_inflight_sampler(host, destination, seconds, interval=0.1):
    """Sample the sender's unacknowledged segments (ss: unacked) every ``interval`` s for ``seconds`` s, in the
    background; bounded, so it ends on its own. Returns the process; ``inflight_segments`` reads it."""
    count = int(seconds / interval)
    script = (f'for i in $(seq {count}); do ss -tinH dst {destination} dport = :{IPERF_PORT}; echo @; '
              f'sleep {interval}; done')
    return host.popen(['sh', '-c', script], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def inflight_segments(sampler, skip=0.3):
    """The mean of the sampled unacked counts (Little's law: goodput = mean in flight / round), leaving out the first
    ``skip`` of the samples (slow start and the connection's setup); None without samples."""
    output, _ = sampler.communicate(timeout=60)
    samples = [int(match.group(1)) for block in output.split('@')
               for match in [re.search(r'unacked:(\d+)', block)] if match]
    samples = samples[int(len(samples) * skip):]
    return statistics.fmean(samples) if samples else None


def theory(params):
    """Below the knee goodput = window / RTT (the window in whole segments); above it the link's rate: the knee is at
    the BDP. The window is what the sender had in flight (ss), so the expected values are computed per measurement;
    the shape is checked as the ratio of measured to expected goodput (1.0) on each side of the knee."""
    rate, rtt = _rate_rtt(params)
    ping_rtt = rtt + 2 * PING_FRAME * 8 / rate  # propagation both ways, and each ping's transmission
    return [Quantity(f'goodput / min(rate, window/RTT), -w {w} kB', 1.0, '', relative=0.10) for w in WINDOWS] + [
        Quantity('RTT (ms)', ping_rtt * 1e3, 'ms', absolute=0.3, relative=0.02)]


def measure(net, params, repetition, log):
    h1, h2 = net['h1'], net['h2']
    rate, rtt = _rate_rtt(params)
    # Pings further apart than a round trip: none meets another in the link (at 20 ms apart, on a 20 ms path, each
    # request crossed the previous reply in the delay line, which read ~0.1 ms higher here).
    spacing = max(0.05, 2.5 * rtt)
    result = {'RTT (ms)': rtt_summary(ping_rtts(h1, h2.IP(), count=20, interval=spacing))['median']}
    for window in WINDOWS:
        sampler = start_inflight_sampler(h1, h2.IP(), params['seconds'] + 1)
        goodput, report = tcp_goodput(h1, h2, seconds=params['seconds'], report=True, window=f'{window}K')
        in_flight = inflight_segments(sampler)
        windows = [stream.get('snd_wnd') for interval in report.get('intervals', [])
                   for stream in interval.get('streams', []) if stream.get('snd_wnd')]
        snd_wnd = statistics.median(windows) if windows else window * 1024
        mss = report.get('start', {}).get('tcp_mss_default') or MSS
        ping_rtt = result['RTT (ms)'] / 1e3 if result['RTT (ms)'] else rtt
        # The sender's own buffer (-w sets both ends) can hold less than the receiver's window: what limits the
        # goodput is what is in flight, so that is the window of the model when ss could sample it.
        window_bytes = in_flight * mss if in_flight else usable_window(snd_wnd, mss)
        expected = min(textbook.tcp_goodput(rate), window_bytes * 8 / ack_clock_round(ping_rtt, rate))
        result[f'goodput Mb/s, -w {window} kB'] = goodput / 1e6
        result[f'window B, -w {window} kB'] = snd_wnd
        result[f'usable window B, -w {window} kB'] = usable_window(snd_wnd, mss)
        result[f'in flight B, -w {window} kB'] = window_bytes
        result[f'goodput / min(rate, window/RTT), -w {window} kB'] = goodput / expected
    return result


def notes(result):
    params, first = first_repetition(result)
    rate, rtt = _rate_rtt(params)
    bdp = textbook.bdp_bytes(rate, rtt)
    lines = [f'Bandwidth-delay product: {rate / 1e6:g} Mb/s x {rtt * 1e3:g} ms RTT = {bdp:,.0f} bytes (one way: '
             f'{bdp / 2:,.0f}).', '',
             '| -w | window advertised | in whole segments | in flight (mean) | goodput | in flight / ACK round | '
             'rate x 1448/1514 |',
             '|---|---|---|---|---|---|---|']
    round_trip = ack_clock_round(first['RTT (ms)'] / 1e3, rate)
    for window in WINDOWS:
        snd = first[f'window B, -w {window} kB']
        usable = first.get(f'usable window B, -w {window} kB', snd)
        flight = first.get(f'in flight B, -w {window} kB', usable)
        lines.append(f'| {window} kB | {snd:,.0f} B | {usable:,.0f} B | {flight:,.0f} B | '
                     f'{first[f"goodput Mb/s, -w {window} kB"]:.2f} Mb/s | {flight * 8 / round_trip / 1e6:.2f} Mb/s | '
                     f'{textbook.tcp_goodput(rate) / 1e6:.2f} Mb/s |')
    lines += ['', 'The window of the model is what the sender had in flight (ss: unacked segments, sampled every '
              '0.1 s, mean): at most the receiver\'s advertised window (tcp_info snd_wnd) in whole segments (a '
              'sender does not send a partial segment while it has more data, RFC 1122 4.2.3.4, so a 7.2 kB window '
              'carries four 1448-byte segments per round trip, not five), and less when the sender\'s own buffer '
              '(-w sets both ends) fills first; above the knee it is the pipe plus the queue. The round is a full '
              'segment\'s: the ping\'s, plus what a 1514-byte segment and a 66-byte ACK take longer than two 98-byte '
              'pings to transmit (the link serialises frames), plus half a frame time: the receiver acknowledges '
              'every second segment (RFC 5681 4.2), so the first of a pair waits one frame time for the second, '
              'unless reading the data opened the window enough to be announced at once. Tolerance 10 % per point '
              '(it covers both ends, 3 % apart at 10 Mb/s and 20 ms).']
    lines += ['', 'The lecture\'s pipe question: 1 Mb/s and 5 ms holds 5,000 bits; 10 Mb/s and 1 ms holds 10,000 bits '
              '(the wider, shorter pipe holds twice as much).']
    return lines


def plot(result, folder):
    params, first = first_repetition(result)
    rate, rtt = _rate_rtt(params)
    windows = [first[f'window B, -w {w} kB'] for w in WINDOWS]
    goodputs = [first[f'goodput Mb/s, -w {w} kB'] for w in WINDOWS]
    figure, axis = axes()
    span = [w * 1.0 for w in range(1000, int(max(windows) * 1.2), 100)]
    axis.plot([w / 1e3 for w in span], [min(textbook.tcp_goodput(rate), w * 8 / rtt) / 1e6 for w in span], 'k:',
              label='min(rate, window / RTT)')
    round_trip = ack_clock_round(first['RTT (ms)'] / 1e3, rate)
    axis.plot([w / 1e3 for w in span], [min(textbook.tcp_goodput(rate), usable_window(w, MSS) * 8 / round_trip) / 1e6
                                        for w in span], 'k--', label='whole 1448 B segments, ACK-clock round')
    axis.scatter([w / 1e3 for w in windows], goodputs, color='C0', zorder=3, label='measured')
    axis.axvline(textbook.bdp_bytes(rate, rtt) / 1e3, color='C1', linestyle=':', label='BDP')
    axis.set_xscale('log', base=2)  # the windows double from point to point
    return save(figure, axis, folder, 'pipe.png', 'TCP window advertised to the sender (kB)', 'goodput (Mb/s)')


EXPERIMENT = Experiment(
    name='pipe', title='The pipe: bandwidth-delay product and the TCP window',
    model='A link of rate R and round-trip time RTT holds R x RTT bits in flight (the pipe). A TCP sender with '
          'window W can have W bytes unacknowledged, so its goodput is min(R, W / RTT): it grows with the window up '
          'to the knee at the bandwidth-delay product and is flat beyond.',
    topology=lambda params: PairTopo(bw=params['bw'], delay=f'{params["delay_ms"]}ms'), theory=theory,
    measure=measure, params={'bw': 10, 'delay_ms': 10, 'seconds': 5},
    ranges={'bw': (0.1, 1000), 'delay_ms': (0.1, 1000), 'seconds': (1, 60)}, repetitions=1, plot=plot, notes=notes)
