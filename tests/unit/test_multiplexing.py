"""Statistical multiplexing and Erlang-B models (testbed.measure.multiplexing)."""
import math

import pytest

from testbed.measure.multiplexing import (binomial_quantile, call_events, erlang_b, expected_excess, fluid_queue,
                                          loss_system, multiplexing_summary, offered_per_slot, onoff_schedule,
                                          peak_rate, percentile, slot_rates)


def test_schedule_is_seeded_and_near_its_probability():
    first = onoff_schedule(20, 500, 0.25, seed=7)
    assert first == onoff_schedule(20, 500, 0.25, seed=7) and first != onoff_schedule(20, 500, 0.25, seed=8)
    on = sum(pattern.count('1') for pattern in first) / (20 * 500)
    assert abs(on - 0.25) < 0.02


def test_binomial_quantile():
    assert binomial_quantile(1, 0.25, 0.99) == 1
    assert binomial_quantile(16, 0.25, 0.5) == 4
    assert binomial_quantile(16, 0.25, 0.99) == 8  # P(K <= 7) = 0.973, P(K <= 8) = 0.993
    assert binomial_quantile(10, 0.0, 0.99) == 0
    with pytest.raises(ValueError):
        binomial_quantile(10, 0.5, 0)


def test_expected_excess_matches_a_direct_sum():
    # K ~ Binomial(2, 0.5): P(2) = 0.25, so E[(K - 1)+] = 0.25
    assert expected_excess(2, 0.5, 1) == pytest.approx(0.25)
    assert expected_excess(5, 0.3, 5) == 0


def test_percentile_interpolates():
    assert percentile([1, 2, 3, 4, 5], 0.5) == 3
    assert percentile([0, 10], 0.99) == pytest.approx(9.9)
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_fluid_queue_without_overload_loses_nothing():
    result = fluid_queue([5e6] * 10, 10e6, 8e4, 0.05)
    assert result['lost_fraction'] == 0 and result['mean_delay_s'] == 0


def test_fluid_queue_overflow_and_delay():
    # 20 Mb/s into 10 Mb/s for one 0.1 s slot with a 0.2 Mb buffer: 1 Mb excess, 0.8 Mb of it lost.
    result = fluid_queue([20e6, 0], 10e6, 2e5, 0.1)
    assert result['lost_bits'] == pytest.approx(8e5)
    assert result['lost_fraction'] == pytest.approx(8e5 / 2e6)
    # the queue fills in 0.02 s then stays full: mean 0.02 * 1e5 + 0.08 * 2e5 over 0.1 s = 1.8e5 bits = 18 ms
    assert result['mean_delay_s'] == pytest.approx(0.018)


def test_offered_and_received_slot_rates():
    schedule = ['101', '110']
    assert offered_per_slot(schedule, 1e6) == [2e6, 1e6, 1e6]
    packets = [('a', 0.01, 1000), ('a', 0.02, 1000), ('b', 0.15, 1000), ('b', 0.31, 1000), ('b', -1, 1000)]
    rates = slot_rates(packets, start_s=0.0, slot_s=0.1, slots=3)
    assert rates == {'a': [160000.0, 0.0, 0.0], 'b': [0.0, 80000.0, 0.0]}  # 0.31 s is past the last slot
    summary = multiplexing_summary(rates, {'a': '100', 'b': '010'}, 3, quantile=1.0)
    assert summary['sum_of_peaks'] == 240000.0
    assert summary['peak_of_aggregate'] == 160000.0
    assert summary['sum_of_averages'] == pytest.approx(80000.0)


def test_a_late_frame_in_the_next_slot_does_not_raise_the_peak():
    # 6 frames per on slot; the last of slot 0 slips into slot 1 (on too) and one of slot 2 into slot 3 (off)
    per_slot = [5, 7, 6, 1, 6]
    assert peak_rate(per_slot, '11101') == 6
    assert peak_rate(per_slot, '00000') == 0.0  # the maximum over all slots would have said 7


def test_erlang_b_known_values():
    assert erlang_b(0, 3.0) == 1.0
    assert erlang_b(1, 1.0) == pytest.approx(0.5)
    assert erlang_b(4, 3.0) == pytest.approx(0.20611, abs=1e-4)  # the textbook table
    assert erlang_b(10, 5.0) == pytest.approx(0.01838, abs=1e-4)


def test_loss_system_on_a_long_workload_approaches_erlang_b():
    events = call_events(20000, erlangs=3.0, holding_s=1.0, seed=1)
    blocked, offered, _ = loss_system(events, circuits=4)
    assert offered == 20000
    assert abs(blocked / offered - erlang_b(4, 3.0)) < 0.01


def test_call_events_are_ordered_with_departures_first_on_ties():
    events = call_events(50, 2.0, 1.0, seed=3)
    assert [e[0] for e in events] == sorted(e[0] for e in events)
    assert sum(1 for e in events if e[1] == 'arrive') == 50
    assert not math.isnan(events[-1][0])
