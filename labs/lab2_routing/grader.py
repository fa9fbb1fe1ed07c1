"""Lab 2 grader: the student's next_hops on hidden topologies (against Dijkstra with the lab's tie rule), then
inside the real controller on the student's ring: reachability, and the tables after a link fails."""
import json
import os
import random
import time

from testbed.reports.labs import Check, Lab, call_student
from testbed.control.routing import next_hops

STUDENT_FILE = 'my_routing.py'
EXAMPLE = {'s1': {'s2': 1.0, 's3': 4.0}, 's2': {'s1': 1.0, 's3': 1.0}, 's3': {'s1': 4.0, 's2': 1.0}}


def parameters(rng):
    n = rng.randint(5, 8)
    cut = rng.randint(1, n)
    return {'ring': n, 'cut_a': f's{cut}', 'cut_b': f's{cut % n + 1}', 'seed': rng.randint(1, 10 ** 6)}


def _graph(edges):
    graph = {}
    for a, b, cost in edges:
        graph.setdefault(a, {})[b] = float(cost)
        graph.setdefault(b, {})[a] = float(cost)
    return graph


def hidden_topologies(seed):
    """Named graphs that each test one thing; the last is random (per student)."""
    rng = random.Random(seed)
    line = _graph([(f's{i}', f's{i + 1}', 1) for i in range(1, 6)])
    ring = _graph([(f's{i}', f's{i % 6 + 1}', 1) for i in range(1, 7)])
    weighted = _graph([('s1', 's2', 10), ('s1', 's3', 1), ('s3', 's4', 1), ('s4', 's2', 1), ('s2', 's5', 1)])
    split = _graph([('s1', 's2', 1), ('s3', 's4', 1)])
    nodes = [f's{i}' for i in range(1, 21)]
    edges = [(nodes[i], nodes[rng.randrange(i)], rng.randint(1, 9)) for i in range(1, 20)]
    edges += [(a, b, rng.randint(1, 9)) for a, b in (rng.sample(nodes, 2) for _ in range(15)) if a != b]
    random_graph = _graph(edges)
    return [('a line of 6', line, 'the cost is the number of links; the first hop is always the next switch'),
            ('a ring of 6 (ties)', ring, 'from s1, s4 is 3 links either way: the tie goes to the first hop whose '
                                         'name sorts first (s2)'),
            ('a weighted graph', weighted, 's1 reaches s2 cheaper over three links of cost 1 than over the direct '
                                           'link of cost 10: count costs, not hops'),
            ('a partitioned graph', split, 'switches you cannot reach must be left out'),
            ('a random graph of 20 switches', random_graph, 'costs 1..9, cycles and parallel ways')]


def _check_graph(path, name, graph, hint, points=1.0):
    for source in sorted(graph):
        got, error = call_student(path, 'next_hops', graph, source)
        if error:
            return Check(name, points, 0, error)
        want = next_hops(graph, source)
        if not isinstance(got, dict):
            return Check(name, points, 0, f'next_hops(graph, {source!r}) returned {got!r}, not a dict')
        for dest in sorted(set(want) | set(got)):
            mine, right = got.get(dest), want.get(dest)
            ok = (mine is not None and right is not None and isinstance(mine, list) and len(mine) == 2
                  and isinstance(mine[0], (int, float)) and abs(mine[0] - right[0]) < 1e-6 and mine[1] == right[1])
            if not ok:
                return Check(name, points, 0, f'from {source} to {dest}: you gave {mine!r}, expected {right!r} '
                                               f'({hint})')
    return Check(name, points, points, f'every source agrees with Dijkstra ({len(graph)} switches)')


def _ping_all(net):
    return net.pingAll(timeout=1)


def _live(path, params, log):
    """The student's code inside the controller on their ring: reachability, failure, tables read back."""
    from testbed.control.flows import attachments_from_plan, graph_from_plan
    from testbed.errors import TestbedError
    from testbed.network.net import running
    from testbed.control.routing import compute_routes
    from testbed.control.tables import read_switch
    from topologies.control import RingTopo
    checks = []
    try:
        with running(RingTopo(n=params['ring']), controller='router', algorithm=f'module:{path}',
                     label='lab2') as net:
            loss = _ping_all(net)
            checks.append(Check('your tables deliver every host pair (pingall)', 2, 2 if loss == 0 else 0,
                                f'pingall on a ring of {params["ring"]} lost {loss:.0f} %' +
                                ('' if loss == 0 else ': some switch forwards toward a wrong port or not at all')))
            controller = net.controllers[0]
            events = len(controller.api.timeline())
            net.configLinkStatus(params['cut_a'], params['cut_b'], 'down')
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and len(controller.api.timeline()) <= events:
                time.sleep(0.1)
            time.sleep(0.5)
            loss = _ping_all(net)
            with open(net.run.path('plan.json')) as handle:
                plan = json.load(handle)
            graph = graph_from_plan(plan)
            graph.remove_edge(params['cut_a'], params['cut_b'])
            want = compute_routes(graph, attachments_from_plan(plan)).tables
            wrong = []
            for switch in sorted(want):
                held = {prefix: port for prefix, port, _packets in read_switch(switch)}
                right = {route.prefix: route.port for route in want[switch]}
                if held != right:
                    wrong.append(switch)
            ok = loss == 0 and not wrong
            checks.append(Check(f'after {params["cut_a"]}-{params["cut_b"]} fails', 3, 3 if ok else 0,
                                f'pingall lost {loss:.0f} %; tables read back from the switches '
                                + ('match the shortest paths around the cut' if not wrong else
                                   f'differ from the shortest paths on {", ".join(wrong)}: does your code avoid a '
                                   'link that is no longer in the graph?')))
    except TestbedError as exc:
        log(f'lab 2: the network with your routing did not come up: {exc}')
        hint = ' (the controller stopped answering: does next_hops loop forever on a ring?)' \
            if 'not ready after' in str(exc) else ''
        checks = [Check('your tables deliver every host pair (pingall)', 2, 0,
                        f'the controller could not compute tables with your code: {exc}{hint}'),
                  Check(f'after {params["cut_a"]}-{params["cut_b"]} fails', 3, 0, 'not reached')]
    return checks


def grade(workdir, params, log):
    path = os.path.join(workdir, STUDENT_FILE)
    checks = [_check_graph(path, 'the docstring\'s example', EXAMPLE, 's3 is cheaper via s2 (1 + 1) than direct (4)')]
    checks += [_check_graph(path, name, graph, hint) for name, graph, hint in hidden_topologies(params['seed'])]
    if all(check.passed for check in checks):
        checks += _live(path, params, log)
    else:
        checks += [Check('your tables deliver every host pair (pingall)', 2, 0,
                         'not tried: the controller runs your code only once it passes the checks above'),
                   Check(f'after {params["cut_a"]}-{params["cut_b"]} fails', 3, 0, 'not tried')]
    return checks


LAB = Lab(number=2, name='routing', title='Forwarding tables and routing', student_file=STUDENT_FILE,
          parameters=parameters, grade=grade)
