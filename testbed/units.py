"""Parse and format the quantities links are described with: rates, times, percentages.

Accepted forms follow tc(8) and Mininet: a bare number is Mb/s for a rate (Mininet's ``bw=10``), milliseconds
for a time (``delay=10`` is ``'10ms'``) and percent for a loss. Strings carry their unit: ``'10Mbit'``,
``'1.5Gbps'``, ``'500kbit'``, ``'10ms'``, ``'250us'``, ``'1s'``, ``'1%'``.
"""
from typing import Union

import math
import re

from testbed.errors import TestbedError

_NUMBER = r'([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)'

_RATE_UNITS = {  # multiplier to bits per second
    '': 1e6, 'bit': 1, 'bps': 1, 'b/s': 1,
    'kbit': 1e3, 'kbps': 1e3, 'kb/s': 1e3, 'k': 1e3,
    'mbit': 1e6, 'mbps': 1e6, 'mb/s': 1e6, 'm': 1e6,
    'gbit': 1e9, 'gbps': 1e9, 'gb/s': 1e9, 'g': 1e9,
}
_TIME_UNITS = {  # multiplier to seconds
    '': 1e-3, 's': 1, 'sec': 1, 'secs': 1, 'ms': 1e-3, 'msec': 1e-3, 'msecs': 1e-3,
    'us': 1e-6, 'usec': 1e-6, 'usecs': 1e-6, 'µs': 1e-6,
}


def _split(text, what):
    match = re.fullmatch(r'\s*' + _NUMBER + r'\s*([a-zA-Zµ/%]*)\s*', text)
    if not match:
        raise TestbedError(f'{what} {text!r} is not a number with an optional unit')
    return float(match.group(1)), match.group(2).lower()


def _number(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TestbedError(f'{what} {value!r} is not a number')
    if not math.isfinite(value):
        raise TestbedError(f'{what} {value!r} is not finite')
    return float(value)


def _parse_with_units(value, units, bare_scale, what, hint):
    if isinstance(value, str):
        number, unit = _split(value, what)
        if unit not in units:
            raise TestbedError(f'{what} {value!r} has an unknown unit {unit!r} ({hint})')
        return number * units[unit]
    return _number(value, what) * bare_scale


def parse_rate(value: Union[str, float], what: str = 'bandwidth') -> float:
    """Return a rate in bits/s; a bare number means Mb/s (Mininet's ``bw``)."""
    return _parse_with_units(value, _RATE_UNITS, 1e6, what, 'use bit, kbit, Mbit, Gbit')


def parse_time(value: Union[str, float], what: str = 'delay') -> float:
    """Return a duration in seconds; a bare number means milliseconds (netem's habit)."""
    return _parse_with_units(value, _TIME_UNITS, 1e-3, what, 'use s, ms, us')


def parse_percent(value: Union[str, float], what: str = 'loss') -> float:
    """Return a percentage (0..100 is the caller's check); ``'1%'`` and ``1`` both mean one percent."""
    if isinstance(value, str):
        number, unit = _split(value, what)
        if unit not in ('', '%'):
            raise TestbedError(f'{what} {value!r} has an unknown unit {unit!r} (use a percentage such as 1%)')
        return number
    return _number(value, what)


def format_rate(bps: float) -> str:
    """Human form of a rate: ``10 Mb/s``."""
    for unit, scale in (('Gb/s', 1e9), ('Mb/s', 1e6), ('kb/s', 1e3)):
        if bps >= scale:
            return f'{bps / scale:g} {unit}'
    return f'{bps:g} b/s'


def format_time(seconds: float) -> str:
    """Human form of a duration: ``10 ms``, ``250 us``."""
    if seconds >= 1:
        return f'{seconds:g} s'
    if seconds >= 1e-3 or seconds == 0:
        return f'{seconds * 1e3:g} ms'
    return f'{seconds * 1e6:g} us'
