"""The pipe: a link holds bandwidth x delay bits; TCP fills it only when its window covers the bandwidth-delay product."""
import statistics

from testbed.demo import TCP_EFFICIENCY
from testbed.experiment import Experiment, Quantity, axes, first_repetition, save
from testbed.measure import ping_rtts, rtt_summary, tcp_goodput
from topologies.basic import PairTopo

WINDOWS = (4, 8, 16, 32, 64, 128)  # kB of socket buffer on both ends (iperf3 -w)
PING_FRAME, DATA_FRAME, ACK_FRAME = 98, 1514, 66  # bytes on the wire: a 56-byte ping, a full segment, its ACK


def _rate_rtt(params):
    """The link's rate (b/s) and its propagation round trip (s)."""
    return float(params['bw']) * 1e6, 2 * float(params['delay_ms']) / 1e3


def segment_rtt(ping_rtt, rate):
    """The round trip a full TCP segment and its ACK take, from a ping's: the link serialises every frame, so a
    1514-byte segment and a 66-byte ACK spend longer on the wire than two 98-byte pings."""
    return ping_rtt + (DATA_FRAME + ACK_FRAME - 2 * PING_FRAME) * 8 / rate


def usable_window(window, mss):
    """What a window lets a sender have in flight: whole segments only (sender-side silly-window avoidance keeps
    a sender from sending a partial segment while data waits), so floor(window / MSS) x MSS."""
    return (window // mss) * mss


def theory(params):
    """Below the knee goodput = window / RTT (the window counted in whole segments); above it the link's rate: the
    knee is at the BDP. The window is the one the sender reports (tcp_info snd_wnd), so the expected values are
    computed per measurement; the shape is checked as the ratio of measured to expected goodput (1.0) on each side
    of the knee."""
    rate, rtt = _rate_rtt(params)
    ping_rtt = rtt + 2 * PING_FRAME * 8 / rate  # propagation both ways, and each ping's transmission
    return [Quantity(f'goodput / min(rate, window/RTT), -w {w} kB', 1.0, '', relative=0.10) for w in WINDOWS] + [
        Quantity('RTT (ms)', ping_rtt * 1e3, 'ms', absolute=0.3, relative=0.02)]


def measure(net, params, repetition, log):
    h1, h2 = net['h1'], net['h2']
    rate, rtt = _rate_rtt(params)
    result = {'RTT (ms)': rtt_summary(ping_rtts(h1, h2.IP(), count=20, interval=0.02))['median']}
    for window in WINDOWS:
        goodput, report = tcp_goodput(h1, h2, seconds=params['seconds'], report=True, window=f'{window}K')
        windows = [stream.get('snd_wnd') for interval in report.get('intervals', [])
                   for stream in interval.get('streams', []) if stream.get('snd_wnd')]
        snd_wnd = statistics.median(windows) if windows else window * 1024
        mss = report.get('start', {}).get('tcp_mss_default') or 1448
        measured_rtt = segment_rtt(result['RTT (ms)'] / 1e3, rate) if result['RTT (ms)'] else segment_rtt(rtt, rate)
        expected = min(rate * TCP_EFFICIENCY, usable_window(snd_wnd, mss) * 8 / measured_rtt)
        result[f'goodput Mb/s, -w {window} kB'] = goodput / 1e6
        result[f'window B, -w {window} kB'] = snd_wnd
        result[f'usable window B, -w {window} kB'] = usable_window(snd_wnd, mss)
        result[f'goodput / min(rate, window/RTT), -w {window} kB'] = goodput / expected
    return result


def notes(result):
    params, first = first_repetition(result)
    rate, rtt = _rate_rtt(params)
    bdp = rate * rtt / 8
    lines = [f'Bandwidth-delay product: {rate / 1e6:g} Mb/s x {rtt * 1e3:g} ms RTT = {bdp:,.0f} bytes (one way: '
             f'{bdp / 2:,.0f}).', '',
             '| -w | window the sender saw | in whole segments | goodput | usable window/RTT | rate x 1448/1514 |',
             '|---|---|---|---|---|---|']
    for window in WINDOWS:
        snd = first[f'window B, -w {window} kB']
        usable = first.get(f'usable window B, -w {window} kB', snd)
        lines.append(f'| {window} kB | {snd:,.0f} B | {usable:,.0f} B | '
                     f'{first[f"goodput Mb/s, -w {window} kB"]:.2f} Mb/s | {usable * 8 / rtt / 1e6:.2f} Mb/s | '
                     f'{rate * TCP_EFFICIENCY / 1e6:.2f} Mb/s |')
    lines += ['', 'The window is the one the receiver advertised (tcp_info snd_wnd), counted in whole segments: a '
              'sender does not send a partial segment while it has more data (silly-window avoidance, RFC 1122 '
              '4.2.3.4), so a 7.2 kB window carries four 1448-byte segments per round trip, not five. RTT is a full '
              'segment\'s: the ping\'s, plus what a 1514-byte segment and a 66-byte ACK take longer than two 98-byte '
              'pings to transmit (the link serialises frames). Tolerance 10 % per point.']
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
    axis.plot([w / 1e3 for w in span], [min(rate * TCP_EFFICIENCY, w * 8 / rtt) / 1e6 for w in span], 'k:',
              label='min(rate, window / RTT)')
    axis.plot([w / 1e3 for w in span], [min(rate * TCP_EFFICIENCY, usable_window(w, 1448) * 8 / rtt) / 1e6
                                        for w in span], 'k--', label='same, window in whole 1448 B segments')
    axis.scatter([w / 1e3 for w in windows], goodputs, color='C0', zorder=3, label='measured')
    axis.axvline(rate * rtt / 8 / 1e3, color='C1', linestyle=':', label='BDP')
    axis.set_xscale('log', base=2)  # the windows double from point to point
    return save(figure, axis, folder, 'pipe.png', 'TCP window the sender saw (kB)', 'goodput (Mb/s)')


EXPERIMENT = Experiment(
    name='pipe', title='The pipe: bandwidth-delay product and the TCP window',
    model='A link of rate R and round-trip time RTT holds R x RTT bits in flight (the pipe). A TCP sender with '
          'window W can have W bytes unacknowledged, so its goodput is min(R, W / RTT): it grows with the window up '
          'to the knee at the bandwidth-delay product and is flat beyond.',
    topology=lambda params: PairTopo(bw=params['bw'], delay=f'{params["delay_ms"]}ms'), theory=theory,
    measure=measure, params={'bw': 10, 'delay_ms': 10, 'seconds': 5}, repetitions=1, plot=plot, notes=notes)
