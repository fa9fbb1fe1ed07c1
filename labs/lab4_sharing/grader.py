"""Lab 4 grader: the student's admission decision, Erlang-B and binomial peak on hidden cases; a seeded call
workload replayed through their admission (blocking vs Erlang-B); then their admission inside the controller,
against the real link's capacity."""
import os
import tempfile

from testbed.reports.labs import Check, Lab, call_student
from testbed.measure.multiplexing import binomial_quantile, call_events, erlang_b, loss_system

STUDENT_FILE = 'sharing.py'
CALLS = 2000
HARNESS = '''"""Replays a call workload through the student's admit() (written by the lab 4 grader)."""
import importlib.util

spec = importlib.util.spec_from_file_location('student', {path!r})
student = importlib.util.module_from_spec(spec)
spec.loader.exec_module(student)


def replay(events, capacity, rate):
    busy, admitted = set(), {{}}
    for _, kind, call in events:
        if kind == 'arrive':
            link = {{'name': 's1-s2', 'capacity': capacity, 'reserved': rate * len(busy)}}
            ok, _reason = student.admit([link], rate)
            admitted[str(call)] = bool(ok)
            if ok:
                busy.add(call)
        else:
            busy.discard(call)
    return admitted
'''


def parameters(rng):
    capacity = rng.choice([10, 20])
    call = rng.choice([c for c in (2, 2.5, 5) if capacity / c <= 8])
    return {'capacity_mbps': capacity, 'call_mbps': call, 'erlangs': rng.choice([1.5, 2, 3, 4, 5, 6]),
            'sources': rng.randint(8, 24), 'p_on': rng.choice([0.1, 0.2, 0.25, 0.3, 0.4]), 'seed': rng.randint(1, 999)}


def _admit_cases():
    mb = 1e6
    return [  # (links, rate, admitted, a word the reason must contain)
        ([{'name': 's1-s2', 'capacity': 10 * mb, 'reserved': 6 * mb}], 4 * mb, True, ''),
        ([{'name': 's1-s2', 'capacity': 10 * mb, 'reserved': 6.5 * mb}], 4 * mb, False, 's1-s2'),
        ([{'name': 's1-s2', 'capacity': 10 * mb, 'reserved': 0}, {'name': 's2-s3', 'capacity': 5 * mb,
                                                                   'reserved': 2 * mb}], 4 * mb, False, 's2-s3'),
        ([{'name': 's1-s2', 'capacity': None, 'reserved': 0}], 1 * mb, False, 's1-s2'),
        ([{'name': 'a-b', 'capacity': 100 * mb, 'reserved': 0}, {'name': 'b-c', 'capacity': 100 * mb,
                                                                 'reserved': 99 * mb}], 1 * mb, True, ''),
    ]


def _admit_check(path):
    for links, rate, want, word in _admit_cases():
        got, error = call_student(path, 'admit', links, rate)
        if error:
            return Check('admission decision', 3, 0, error)
        try:
            ok, reason = got
        except (TypeError, ValueError):
            return Check('admission decision', 3, 0, f'admit() returned {got!r}, not [ok, reason]')
        if bool(ok) != want:
            used = ', '.join(f'{link["name"]}: {link["reserved"] / 1e6:g} of '
                             + ('no' if link['capacity'] is None else f'{link["capacity"] / 1e6:g}')
                             + ' Mb/s reserved' for link in links)
            return Check('admission decision', 3, 0, f'a {rate / 1e6:g} Mb/s request on {used} should be '
                                                      f'{"admitted" if want else "refused"}, you said {ok!r}: every '
                                                      'link of the path must have that much unreserved capacity')
        if not want and word not in str(reason):
            return Check('admission decision', 3, 1.5, f'right decisions, but the reason {reason!r} should name '
                                                        f'the link that cannot carry it ({word})')
    return Check('admission decision', 3, 3, 'right on every case, including a request that exactly fills a link')


def _values_check(path, name, function, cases, reference, explain, points=2.0, exact=False):
    for args in cases:
        got, error = call_student(path, function, *args)
        if error:
            return Check(name, points, 0, f'{error}. {explain}')
        want = reference(*args)
        if not isinstance(got, (int, float)) or (got != want if exact else abs(got - want) > 1e-6):
            return Check(name, points, 0, f'{function}{tuple(args)} returned {got!r}, expected {want:.6g}. {explain}')
    return Check(name, points, points, f'correct on {len(cases)} cases')


def _blocking_check(path, params, log):
    capacity, rate = params['capacity_mbps'] * 1e6, params['call_mbps'] * 1e6
    circuits = int(capacity // rate)
    events = call_events(CALLS, params['erlangs'], 1.0, params['seed'])
    with tempfile.TemporaryDirectory(prefix='tb-lab4-') as folder:
        harness = os.path.join(folder, 'harness.py')
        with open(harness, 'w') as handle:
            handle.write(HARNESS.format(path=path))
        admitted, error = call_student(harness, 'replay', events, capacity, rate, timeout=60)
    if error:
        return Check('blocking of your admission vs Erlang-B', 2, 0, error)
    _, _, model = loss_system(events, circuits)
    blocked = sum(1 for ok in admitted.values() if not ok)
    agree = all(admitted.get(str(call)) == ok for call, ok in model.items())
    theory = erlang_b(circuits, params['erlangs'])
    log(f'lab 4: {blocked} of {CALLS} calls blocked ({blocked / CALLS:.3f}); Erlang-B({circuits}, '
        f'{params["erlangs"]}) = {theory:.3f}')
    detail = (f'{CALLS} Poisson calls of {params["call_mbps"]} Mb/s at {params["erlangs"]} erlangs on '
              f'{params["capacity_mbps"]} Mb/s ({circuits} circuits): {blocked / CALLS:.3f} blocked; Erlang-B '
              f'predicts {theory:.3f}')
    if agree:
        return Check('blocking of your admission vs Erlang-B', 2, 2, detail)
    return Check('blocking of your admission vs Erlang-B', 2, 0, detail + '; some calls were admitted or refused '
                 'differently from a loss system with that many circuits')


def _live(path, params, log):
    from testbed.errors import TestbedError
    from testbed.network.net import running
    from topologies.control import BottleneckTopo
    rate = params['call_mbps'] * 1e6
    circuits = int(params['capacity_mbps'] // params['call_mbps'])
    name = 'your admission in the controller'
    try:
        with running(BottleneckTopo(bw=params['capacity_mbps']), controller='router', admission=path,
                     label='lab4') as net:
            controller = net.controllers[0]
            answers = [controller.api.reserve('h1', 'h3', rate)
                       for _ in range(circuits + 1)]
            admitted = [answer for status, answer in answers if status == 200]
            last_status, last = answers[-1]
            freed = controller.api.teardown(admitted[0]["id"])[0] if admitted else None
            again = controller.api.reserve('h1', 'h3', rate)[0]
    except TestbedError as exc:
        return Check(name, 3, 0, f'the network with your admission did not come up: {exc}')
    ok = len(admitted) == circuits and last_status == 409 and freed == 200 and again == 200
    return Check(name, 3, 3 if ok else 0,
                 f'{len(admitted)} of {circuits + 1} requests of {params["call_mbps"]} Mb/s admitted on the '
                 f'{params["capacity_mbps"]} Mb/s link s1-s2 (expected {circuits}); the last: '
                 f'{last.get("error", "admitted")!r}; after a teardown: {"admitted" if again == 200 else "refused"}')


def grade(workdir, params, log):
    path = os.path.join(workdir, STUDENT_FILE)
    circuits = int(params['capacity_mbps'] // params['call_mbps'])
    checks = [_admit_check(path),
              _values_check(path, 'Erlang-B', 'erlang_b',
                            [(1, 1.0), (4, 3.0), (10, 5.0), (circuits, params['erlangs'])],
                            erlang_b, 'B(m, A) = (A^m / m!) / sum over k <= m of A^k / k!; the recursion avoids big '
                                      'factorials'),
              _values_check(path, 'peak of the aggregate', 'peak_of_aggregate',
                            [(1, 0.25, 0.99), (16, 0.25, 0.99), (16, 0.25, 0.5),
                             (params['sources'], params['p_on'], 0.99)], binomial_quantile,
                            'P(at most k on) is the binomial distribution\'s cumulative sum; compare with the sum of '
                            'peaks (all on)', exact=True)]
    checks.append(_blocking_check(path, params, log) if checks[0].passed else
                  Check('blocking of your admission vs Erlang-B', 2, 0, 'not tried: admit() must be right first'))
    checks.append(_live(path, params, log) if checks[0].passed else
                  Check('your admission in the controller', 3, 0, 'not tried: admit() must be right first'))
    return checks


LAB = Lab(number=4, name='sharing', title='Sharing the network: multiplexing and circuits', student_file=STUDENT_FILE,
          parameters=parameters, grade=grade)
