"""Parsing of rates, times and percentages."""
import pytest

from testbed.errors import TestbedError
from testbed.units import format_rate, format_time, parse_percent, parse_rate, parse_time


@pytest.mark.parametrize('value, bps', [
    (10, 10e6), (0.5, 0.5e6), ('10Mbit', 10e6), ('10mbps', 10e6), ('1.5Gbit', 1.5e9), ('500kbit', 500e3),
    ('64000bit', 64e3), (' 100 Mbit ', 100e6), ('2.5', 2.5e6),
])
def test_rates(value, bps):
    assert parse_rate(value) == pytest.approx(bps)


@pytest.mark.parametrize('value, seconds', [
    (10, 0.010), ('10ms', 0.010), ('250us', 250e-6), ('1s', 1.0), ('0.5ms', 0.0005), ('7', 0.007),
])
def test_times(value, seconds):
    assert parse_time(value) == pytest.approx(seconds)


@pytest.mark.parametrize('value, percent', [(1, 1.0), ('1%', 1.0), ('0.5', 0.5), (100, 100.0)])
def test_percent(value, percent):
    assert parse_percent(value) == pytest.approx(percent)


@pytest.mark.parametrize('parse, value, words', [
    (parse_rate, '10 furlongs', 'unknown unit'),
    (parse_rate, 'fast', 'not a number'),
    (parse_rate, True, 'not a number'),
    (parse_rate, float('inf'), 'not finite'),
    (parse_time, '3 fortnights', 'unknown unit'),
    (parse_time, '', 'not a number'),
    (parse_percent, '5 ppm', 'unknown unit'),
])
def test_bad_values_name_the_problem(parse, value, words):
    with pytest.raises(TestbedError, match=words):
        parse(value)


def test_formatting():
    assert format_rate(10e6) == '10 Mb/s'
    assert format_rate(1.5e9) == '1.5 Gb/s'
    assert format_time(0.01) == '10 ms'
    assert format_time(250e-6) == '250 us'
