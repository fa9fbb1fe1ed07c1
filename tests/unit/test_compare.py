"""The one measured-vs-expected type: ranges, one-sided bounds, what it prints."""
import math

import pytest

from testbed.measure.compare import Comparison


def test_a_two_sided_comparison_prints_measured_expected_and_tolerance():
    inside = Comparison.within('RTT', 20.1, 20.0, 0.4, 'ms', 'max(0.3 ms, 2 %)')
    assert inside.ok and inside.tolerance == pytest.approx(0.4) and inside.bound == ''
    assert str(inside) == 'RTT: measured 20.100, expected 20.000 +- 0.400 ms (ok) [max(0.3 ms, 2 %)]'
    assert not Comparison.within('RTT', 20.5, 20.0, 0.4, 'ms').ok


def test_one_sided_bounds_and_a_missing_measurement():
    floor = Comparison.at_least('ceiling', 640.0, 500.0, unit='Mb/s')
    assert floor.ok and floor.bound == 'min' and math.isinf(floor.high)
    assert str(floor) == 'ceiling: measured 640.000, expected >= 500.000 Mb/s (ok)'
    ceiling = Comparison.at_most('outage', 120.0, 100.0, unit='ms')
    assert not ceiling.ok and str(ceiling).endswith('expected <= 100.000 ms (OFF)')
    assert not Comparison.within('loss', None, 1.0, 1.0, '%').ok
