"""Lab 1 - reference solution (kept apart from the starter; not handed out).

MEASURED is filled by ``measure_reference`` in the grader's tests, the way a student would measure; a teacher can
fill it by hand after running the handout's commands.
"""


def transmission_delay_ms(size_bytes, rate_bps):
    return size_bytes * 8 / rate_bps * 1000


def packet_delay_ms(size_bytes, rate_bps, propagation_ms):
    return transmission_delay_ms(size_bytes, rate_bps) + propagation_ms


def bdp_bytes(rate_bps, rtt_ms):
    return rate_bps * rtt_ms / 1000 / 8


MEASURED = {
    'link_a_rtt_ms': None,
    'link_b_goodput_mbps': None,
}
