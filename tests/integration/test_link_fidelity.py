"""Link fidelity on each delay path: RTT, goodput, loss and jitter against the configured link.

Tolerances (the platform issue's targets): median RTT within max(0.3 ms, 2 %) of 2 x delay; TCP goodput between
93 % and 102 % of the rate; one-way loss within 1 point over 10,000 packets; jitter bounded by 2 x (delay +- jitter).
"""
import pytest

from testbed.measure import ping_rtts, rtt_summary, tcp_goodput, udp_loss
from testbed.net import running
from topologies.basic import LinearTopo, PairTopo

from .conftest import within


@pytest.mark.parametrize('delay_ms', [1, 10])
def test_rtt_is_twice_the_one_way_delay(delay_path, plan_for, delay_ms):
    with running(PairTopo(delay=f'{delay_ms}ms'), plan=plan_for(delay_path)) as net:
        h1, h2 = net.hosts
        summary = rtt_summary(ping_rtts(h1, h2.IP(), count=100, interval=0.01))
    expected = 2 * delay_ms
    within(summary['median'], expected, max(0.3, 0.02 * expected), f'{delay_path} median RTT (ms)')


def test_goodput_follows_the_rate(delay_path, plan_for):
    with running(PairTopo(bw=10, delay='5ms'), plan=plan_for(delay_path)) as net:
        h1, h2 = net.hosts
        goodput = tcp_goodput(h1, h2, seconds=8) / 1e6
    print(f'{delay_path} TCP goodput at 10 Mb/s: {goodput:.2f} Mb/s ({10 * goodput:.1f} % of bw), '
          f'expected 9.30..10.20')
    assert 9.3 <= goodput <= 10.2


def test_one_way_loss(delay_path, plan_for):
    with running(PairTopo(loss=10, delay='1ms'), plan=plan_for(delay_path)) as net:
        h1, h2 = net.hosts
        lost, sent = udp_loss(h1, h2, packets=10000)
    assert sent >= 10000
    within(lost, 10.0, 1.0, f'{delay_path} one-way loss (%) over {sent} packets')


def test_jitter_spreads_rtts_within_bounds(delay_path, plan_for):
    with running(PairTopo(delay='10ms', jitter='2ms'), plan=plan_for(delay_path)) as net:
        h1, h2 = net.hosts
        rtts = ping_rtts(h1, h2.IP(), count=200, interval=0.01)
    summary = rtt_summary(rtts)
    print(f'{delay_path} RTT with 10 +- 2 ms each way: min {summary["min"]:.2f}, median {summary["median"]:.2f}, '
          f'max {max(rtts):.2f}, stdev {summary["stdev"]:.2f} ms; expected within 16..24.5 ms, stdev ~1.6 ms')
    assert 16.0 - 0.05 <= summary['min'] and max(rtts) <= 24.0 + 0.5
    within(summary['median'], 20.0, 0.5, f'{delay_path} median RTT with jitter (ms)')
    assert 0.8 <= summary['stdev'] <= 2.5


def test_switch_to_switch_delays_add_up(delay_path, plan_for):
    """h1 -> h3 crosses two shaped switch links of 5 ms: 20 ms of RTT on top of the unshaped path."""
    with running(LinearTopo(n=3), plan=plan_for(delay_path)) as net:
        base = rtt_summary(ping_rtts(net['h1'], net['h3'].IP(), count=50))['median']
    with running(LinearTopo(n=3, delay='5ms'), plan=plan_for(delay_path)) as net:
        shaped = rtt_summary(ping_rtts(net['h1'], net['h3'].IP(), count=100))['median']
    # Each userspace delay line adds its forwarding time (~0.1 ms per direction) on top of the configured delay.
    within(shaped - base, 20.0, max(0.3, 0.02 * 20.0) + 0.2, f'{delay_path} RTT added by 2 links x 5 ms (ms)')
