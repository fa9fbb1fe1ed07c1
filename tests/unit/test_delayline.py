"""The delay line's per-direction logic with a fake socket (no root, no interfaces)."""
import pytest

from testbed.link.delayline import MAX_COMPENSATION, MIN_FRAME, VNET_HDR_LEN, Direction, Lateness, Schedule
from testbed.link.params import line_groups


class FakeSocket:
    def __init__(self):
        self.sent = []

    def send(self, frame):
        self.sent.append(frame)
        return len(frame)


def frame(n):
    return bytes([n % 256]) * MIN_FRAME


def test_fixed_delay_is_fifo_and_exact():
    out = FakeSocket()
    direction = Direction('a_to_b', out, delay=0.010)
    for i in range(5):
        direction.arrive(frame(i), now=1.0 + i * 0.001)
    assert direction.next_due() == pytest.approx(1.010)
    direction.release(horizon=1.0125)
    assert out.sent == [frame(0), frame(1), frame(2)]
    direction.release(horizon=2.0)
    assert out.sent == [frame(i) for i in range(5)]
    assert direction.counters['delivered'] == 5 and direction.next_due() is None


def test_loss_rate_matches_configuration():
    direction = Direction('a_to_b', FakeSocket(), delay=0.0, loss=0.1, seed=42)
    for i in range(20000):
        direction.arrive(frame(i), now=0.0)
    lost = direction.counters['lost'] / direction.counters['received']
    assert lost == pytest.approx(0.1, abs=0.01), f'measured {lost:.4f}, expected 0.1 +- 0.01'


def test_jitter_stays_within_bounds_and_may_reorder():
    out = FakeSocket()
    direction = Direction('a_to_b', out, delay=0.010, jitter=0.002, seed=1)
    for i in range(200):
        direction.arrive(bytes([i]) + bytes(MIN_FRAME), now=i * 0.0001)
    dues = sorted(entry[0] - int(entry[2][0]) * 0.0001 for entry in direction.queue)
    assert 0.008 <= dues[0] and dues[-1] <= 0.012
    direction.release(horizon=1.0)
    order = [f[0] for f in out.sent]
    assert len(order) == 200 and order != sorted(order), 'jitter larger than the spacing should reorder'


def test_in_flight_limit_and_runts():
    direction = Direction('a_to_b', FakeSocket(), delay=1.0, limit=3)
    for i in range(5):
        direction.arrive(frame(i), now=0.0)
    direction.arrive(b'\x00' * (MIN_FRAME - 1), now=0.0)
    assert direction.counters['overflow'] == 2 and direction.counters['runt'] == 1
    assert direction.counters['max_in_flight'] == 3


def test_lateness_is_learnt_per_length_of_wait():
    timers = Lateness(0.0001)
    for _ in range(100):
        timers.observe(0.005, 0.0003)   # 5 ms waits end 0.3 ms late
        timers.observe(0.0002, 0.00005)  # short waits 50 us late
    assert timers.expected(0.006) == pytest.approx(0.0003, rel=0.01)
    assert timers.expected(0.0001) == pytest.approx(0.00005, rel=0.01)
    assert timers.expected(0.001) == 0.0001  # a length never seen keeps the starting guess


def test_one_descheduled_wake_cannot_swing_the_estimate():
    timers = Lateness(0.0001)
    timers.observe(0.005, 5.0)  # a wait that ended seconds late (the process was stopped)
    assert timers.expected(0.005) <= 0.0001 + MAX_COMPENSATION / 8
    timers.observe(0.005, -1.0)  # a clock step backwards
    assert timers.expected(0.005) >= 0.0


def test_a_serialising_link_gives_each_frame_its_transmission_time_back_to_back():
    out = FakeSocket()
    direction = Direction('a_to_b', out, delay=0.001, rate=1e6)  # Link-2: 1 Mb/s, 1 ms
    big = bytes(VNET_HDR_LEN + 1514)
    direction.arrive(big, now=0.0)
    direction.arrive(big, now=0.0)     # queued behind the first on the wire
    direction.arrive(big, now=1.0)     # the wire has long been idle
    dues = [entry[0] for entry in direction.queue]
    frame_time = 1514 * 8 / 1e6
    assert dues == pytest.approx([frame_time + 0.001, 2 * frame_time + 0.001, 1.0 + frame_time + 0.001])


def test_links_are_dealt_out_over_one_process_per_cpu():
    assert line_groups(5, 2) == [[0, 2, 4], [1, 3]]
    assert line_groups(1, 8) == [[0]] and line_groups(0, 2) == []
    many = line_groups(1000, 4)
    assert sorted(index for group in many for index in group) == list(range(1000))
    assert {len(group) for group in many} == {250}


def test_the_schedule_releases_every_link_in_due_order():
    """Three directions of two links in one process: each frame leaves at its own due time, whichever link."""
    outs = [FakeSocket() for _ in range(3)]
    fast, slow = Direction('a_to_b', outs[0], delay=0.001), Direction('b_to_a', outs[1], delay=0.005)
    jittery = Direction('a_to_b', outs[2], delay=0.004, jitter=0.003, seed=7)
    schedule = Schedule()
    for direction in (fast, slow, jittery):
        direction.arrive(frame(1), now=0.0)
        schedule.arrived(direction)
    assert schedule.next_due() == pytest.approx(0.001)
    schedule.release(0.0015)
    assert [len(out.sent) for out in outs] == [1, 0, 0]
    for i in range(20):                    # jitter: later frames may be due before the first one
        jittery.arrive(frame(i), now=0.002)
        schedule.arrived(jittery)
    assert schedule.next_due() == pytest.approx(jittery.next_due())
    schedule.release(0.0049)
    assert len(outs[1].sent) == 0 and all(due > 0.0049 for due, _, _ in jittery.queue)
    schedule.release(1.0)
    assert [len(out.sent) for out in outs] == [1, 1, 21] and schedule.next_due() is None
