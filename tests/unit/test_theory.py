"""The textbook arithmetic's statistics, against a simulation with a fixed seed (pure)."""
import random
import statistics

from testbed.measure.theory import median_standard_error, uniform_jitter_rtt_stdev


def test_jitter_stdev_and_the_medians_spread_match_a_simulation():
    draws = random.Random(168)

    def rtts(count):
        return [20 + draws.uniform(-2, 2) + draws.uniform(-2, 2) for _ in range(count)]

    assert abs(statistics.stdev(rtts(100_000)) - uniform_jitter_rtt_stdev(2.0)) < 0.02
    medians = [statistics.median(rtts(200)) for _ in range(2000)]
    # The normal approximation of the median's spread holds for this triangular distribution within 10 %.
    assert abs(statistics.stdev(medians) / median_standard_error(uniform_jitter_rtt_stdev(2.0), 200) - 1) < 0.1
    assert abs(statistics.mean(medians) - 20) < 0.02
