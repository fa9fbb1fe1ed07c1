"""Lab 1 grader: the student's delay and BDP formulas on hidden cases and on their own links, and their
measurements against what the testbed measures on the same links."""
import os

from testbed.reports.labs import Check, Lab, call_student, read_student_value

STUDENT_FILE = 'answers.py'
HIDDEN = [  # (size bytes, rate bit/s, propagation ms): the lecture's two links, then others
    (10, 10e6, 10), (10_000, 10e6, 10), (10, 1e6, 1), (10_000, 1e6, 1), (1500, 100e6, 0.5), (64, 56e3, 30)]
RTT_TOLERANCE = (0.5, 0.05)      # ms, share: the student's median RTT vs the grader's
GOODPUT_TOLERANCE = 0.05         # share: the student's goodput vs the grader's


def parameters(rng):
    return {'a_rate_mbps': rng.choice([2, 5, 10, 20]), 'a_delay_ms': rng.randint(4, 25),
            'b_rate_mbps': rng.choice([1, 2, 4, 8]), 'b_delay_ms': rng.randint(1, 6),
            'small_bytes': rng.choice([40, 64, 100, 200]), 'large_bytes': rng.choice([4000, 8000, 12000, 16000])}


def _close(value, expected, absolute=1e-6, relative=1e-6):
    return isinstance(value, (int, float)) and abs(value - expected) <= max(absolute, relative * abs(expected))


def _formula_check(path, name, function, cases, expected, explain, points=2.0):
    wrong = []
    for args, want in zip(cases, expected):
        got, error = call_student(path, function, *args)
        if error:
            return Check(name, points, 0, f'{error}. {explain}')
        if not _close(got, want):
            wrong.append(f'{function}{tuple(args)} returned {got!r}, expected {want:.6g}')
    if not wrong:
        return Check(name, points, points, f'correct on {len(cases)} cases, including the lecture\'s links')
    earned = points * (len(cases) - len(wrong)) / len(cases)
    return Check(name, points, round(earned, 2), f'{wrong[0]}' + (f' (and {len(wrong) - 1} more)' if len(wrong) > 1
                                                                   else '') + f'. {explain}')


def measure_links(params, log):
    """What the testbed measures on the student's links: link A's median RTT, link B's TCP goodput."""
    from testbed.measure.probes import ping_rtts, rtt_summary, tcp_goodput
    from testbed.network.net import running
    from topologies.basic import PairTopo
    with running(PairTopo(bw=params['a_rate_mbps'], delay=f'{params["a_delay_ms"]}ms'), label='lab1-a') as net:
        rtt = rtt_summary(ping_rtts(net['h1'], net['h2'].IP(), count=50, interval=0.02))['median']
    with running(PairTopo(bw=params['b_rate_mbps'], delay=f'{params["b_delay_ms"]}ms'), label='lab1-b') as net:
        goodput = tcp_goodput(net['h1'], net['h2'], seconds=5) / 1e6
    log(f'lab 1: the testbed measured link A RTT {rtt:.3f} ms, link B goodput {goodput:.3f} Mb/s')
    return rtt, goodput


def grade(workdir, params, log):
    path = os.path.join(workdir, STUDENT_FILE)
    checks = [
        _formula_check(path, 'transmission delay L/R', 'transmission_delay_ms', [c[:2] for c in HIDDEN],
                       [c[0] * 8 / c[1] * 1e3 for c in HIDDEN],
                       'Transmission delay is the packet\'s size in bits divided by the rate: 10,000 B at 1 Mb/s '
                       'is 80,000 bits / 1,000,000 bit/s = 80 ms.'),
        _formula_check(path, 'packet delay = transmission + propagation', 'packet_delay_ms', HIDDEN,
                       [c[0] * 8 / c[1] * 1e3 + c[2] for c in HIDDEN],
                       'A packet\'s one-way delay on a link is its transmission delay plus the link\'s propagation '
                       'delay (the lecture: ~18 ms for 10,000 B on Link-1, ~81 ms on Link-2).'),
        _formula_check(path, 'bandwidth-delay product', 'bdp_bytes', [(c[1], 2 * c[2]) for c in HIDDEN],
                       [c[1] * 2 * c[2] / 1e3 / 8 for c in HIDDEN],
                       'The pipe holds rate x RTT bits; divide by 8 for bytes (10 Mb/s x 20 ms = 25,000 B).'),
    ]
    own = [(params['small_bytes'], params['a_rate_mbps'] * 1e6, params['a_delay_ms']),
           (params['large_bytes'], params['a_rate_mbps'] * 1e6, params['a_delay_ms']),
           (params['small_bytes'], params['b_rate_mbps'] * 1e6, params['b_delay_ms']),
           (params['large_bytes'], params['b_rate_mbps'] * 1e6, params['b_delay_ms'])]
    checks.append(_formula_check(path, 'predictions for your links (handout task 2)', 'packet_delay_ms', own,
                                 [c[0] * 8 / c[1] * 1e3 + c[2] for c in own],
                                 'Your links are in params.json; which link is faster for the small packet, '
                                 'and which for the large one?'))
    measured, error = read_student_value(path, 'MEASURED')
    measured = measured if isinstance(measured, dict) else {}
    student_rtt, student_goodput = measured.get('link_a_rtt_ms'), measured.get('link_b_goodput_mbps')
    if error or student_rtt is None or student_goodput is None:
        missing = error or ('MEASURED is not filled in: run the handout\'s task 3 on the testbed and write the '
                            'median RTT of link A and the TCP goodput of link B')
        checks += [Check('measured RTT of link A', 2, 0, missing), Check('measured goodput of link B', 2, 0, missing)]
        return checks
    rtt, goodput = measure_links(params, log)
    tolerance = max(RTT_TOLERANCE[0], RTT_TOLERANCE[1] * rtt)
    ok = _close(student_rtt, rtt, absolute=tolerance)
    checks.append(Check('measured RTT of link A', 2, 2 if ok else 0,
                        f'you measured {student_rtt} ms, the testbed {rtt:.2f} ms (tolerance {tolerance:.2f} ms); '
                        f'theory: 2 x {params["a_delay_ms"]} ms of propagation plus two tiny transmissions' +
                        ('' if ok else '. Did you ping over link A with its own parameters, and take the median?')))
    ok = _close(student_goodput, goodput, absolute=0, relative=GOODPUT_TOLERANCE)
    checks.append(Check('measured goodput of link B', 2, 2 if ok else 0,
                        f'you measured {student_goodput} Mb/s, the testbed {goodput:.2f} Mb/s (tolerance '
                        f'{GOODPUT_TOLERANCE:.0%}); theory: {params["b_rate_mbps"]} Mb/s x 1448/1514 = '
                        f'{params["b_rate_mbps"] * 1448 / 1514:.2f} Mb/s of TCP payload' +
                        ('' if ok else '. Was link B shaped to its own rate, and did TCP run long enough?')))
    return checks


LAB = Lab(number=1, name='delay-and-pipe', title='Delay and the pipe', student_file=STUDENT_FILE,
          parameters=parameters, grade=grade)
