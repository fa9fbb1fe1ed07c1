"""Lab 4 - sharing the network: statistical multiplexing, and the admission decision of circuit switching.
Fill in every TODO, then run:

    sudo .venv/bin/testbed lab grade 4 --student YOUR_ID --dir THIS_FOLDER

Rates are in bits per second. Only the Python standard library is needed (math.comb helps).
"""


def admit(path_links, rate):
    """Admission control: may a circuit of ``rate`` bit/s be reserved along this path?

    path_links: the links of the path, in order, e.g.
        [{'name': 's1-s2', 'capacity': 10e6, 'reserved': 4e6}, {'name': 's2-s3', 'capacity': None, 'reserved': 0}]
        capacity None means the link has no bandwidth to reserve.
    Return [True, ''] to admit, or [False, reason] where the reason names the link that cannot carry it and why
    (e.g. 's1-s2 has 6 Mb/s unreserved').
    """
    # TODO
    raise NotImplementedError


def erlang_b(circuits, erlangs):
    """Blocking probability of ``circuits`` circuits offered ``erlangs`` of Poisson calls (Erlang's B formula)."""
    # TODO: B(0) = 1; B(k) = A B(k-1) / (k + A B(k-1))
    raise NotImplementedError


def peak_of_aggregate(sources, p_on, quantile):
    """How many of ``sources`` independent on/off sources (each on with probability ``p_on``) are on at once, at
    the given quantile: the smallest k with P(at most k on) >= quantile."""
    # TODO: the number on is Binomial(sources, p_on)
    raise NotImplementedError
