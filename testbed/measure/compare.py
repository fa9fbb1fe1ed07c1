"""One way to compare a measurement with its expectation (pure): the accepted range, the unit, and why.

Every check the testbed reports — fidelity tests, the demo, the benches, the experiments — is a ``Comparison``:
``within`` a tolerance of the expected value, or a one-sided bound (``at_least``, ``at_most``). It prints the same
way everywhere: ``what: measured M, expected E +- T unit (ok|OFF) [why]``.
"""
import math
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Comparison:
    """A measurement against its expectation: accepted when ``low <= measured <= high`` (None: not measured)."""

    what: str
    measured: Optional[float]
    expected: float
    low: float
    high: float
    unit: str = ''
    why: str = ''  # where the tolerance comes from, or what else the reader should know

    @classmethod
    def within(cls, what: str, measured: Optional[float], expected: float, tolerance: float, unit: str = '',
               why: str = '') -> 'Comparison':
        return cls(what, measured, expected, expected - tolerance, expected + tolerance, unit, why)

    @classmethod
    def at_least(cls, what: str, measured: Optional[float], expected: float, slack: float = 0.0, unit: str = '',
                 why: str = '') -> 'Comparison':
        return cls(what, measured, expected, expected - slack, math.inf, unit, why)

    @classmethod
    def at_most(cls, what: str, measured: Optional[float], expected: float, slack: float = 0.0, unit: str = '',
                why: str = '') -> 'Comparison':
        return cls(what, measured, expected, -math.inf, expected + slack, unit, why)

    @property
    def ok(self) -> bool:
        return self.measured is not None and self.low <= self.measured <= self.high

    @property
    def bound(self) -> str:
        """'' for a two-sided range, 'min' for at least, 'max' for at most."""
        if math.isinf(self.high):
            return 'min'
        if math.isinf(self.low):
            return 'max'
        return ''

    @property
    def tolerance(self) -> float:
        """How far from the expected value a measurement may be, on the side that has a limit."""
        if self.bound == 'min':
            return self.expected - self.low
        if self.bound == 'max':
            return self.high - self.expected
        return (self.high - self.low) / 2

    def __str__(self) -> str:
        measured = 'not measured' if self.measured is None else f'{self.measured:.3f}'
        sign = {'min': '>= ', 'max': '<= '}.get(self.bound, '')
        limit = self.low if self.bound == 'min' else self.high if self.bound == 'max' else self.expected
        span = '' if sign else f' +- {self.tolerance:.3f}'
        text = f'{self.what}: measured {measured}, expected {sign}{limit:.3f}{span} {self.unit} ' \
               f'({"ok" if self.ok else "OFF"})'
        return text + (f' [{self.why}]' if self.why else '')
