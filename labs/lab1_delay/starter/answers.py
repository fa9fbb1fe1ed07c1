"""Lab 1 - delay and the pipe. Fill in every place marked TODO, then run:

    sudo .venv/bin/testbed lab grade 1 --student YOUR_ID --dir THIS_FOLDER

Your link parameters are in params.json (and in handout.md). Units: sizes in bytes, rates in bits per second,
times in milliseconds.
"""


def transmission_delay_ms(size_bytes, rate_bps):
    """Time to put ``size_bytes`` onto a link of ``rate_bps``, in milliseconds."""
    # TODO: the lecture's L / R (mind the units: bytes vs bits, seconds vs milliseconds)
    raise NotImplementedError


def packet_delay_ms(size_bytes, rate_bps, propagation_ms):
    """One-way delay of a packet of ``size_bytes`` over one link: transmission plus propagation."""
    # TODO: the lecture's packet delay = transmission delay + propagation delay
    raise NotImplementedError


def bdp_bytes(rate_bps, rtt_ms):
    """The bandwidth-delay product: how many bytes a sender must have in flight to fill the pipe for one RTT."""
    # TODO
    raise NotImplementedError


# Measure these on the testbed (handout, task 3) and write the numbers you got.
MEASURED = {
    'link_a_rtt_ms': None,        # TODO: median RTT of ping between the two hosts of link A (ms)
    'link_b_goodput_mbps': None,  # TODO: TCP goodput (iperf) over link B (Mb/s)
}
