"""Admission control for circuits, without switches."""
import networkx as nx
import json

import pytest

from testbed.control.circuits import AdmissionError, CircuitBook


def dumbbell(bottleneck=10e6):
    graph = nx.Graph()
    graph.add_edge('s1', 's2', bw=bottleneck)
    graph.add_edge('s2', 's3', bw=100e6)
    graph.add_edge('s1', 's4', bw=100e6)
    graph.add_edge('s4', 's3', bw=100e6)
    return graph


def test_admits_on_the_fewest_hops_with_capacity_and_refuses_with_the_reason():
    graph, book = dumbbell(), CircuitBook()
    first = book.reserve(graph, 's1', 's3', 6e6, 'a', 'b')
    assert first.path == ('s1', 's2', 's3') and first.id == 1   # ties: the path that sorts first
    second = book.reserve(graph, 's1', 's3', 6e6)
    assert second.path == ('s1', 's4', 's3')                     # s1-s2 has only 4 Mb/s left
    assert book.best_effort_rate(graph, 's1', 's2') == 4e6
    graph.remove_edge('s1', 's4')
    with pytest.raises(AdmissionError, match='s1-s2 has 4 Mb/s unreserved'):
        book.reserve(graph, 's1', 's3', 6e6)


def test_teardown_frees_capacity():
    graph, book = dumbbell(), CircuitBook()
    circuit = book.reserve(graph, 's1', 's2', 10e6)
    assert book.residual(graph, 's1', 's2') == 0
    book.teardown(circuit.id)
    assert book.residual(graph, 's1', 's2') == 10e6
    with pytest.raises(AdmissionError, match="no circuit 7"):
        book.teardown(7)


def test_link_failure_tears_down_the_circuits_that_crossed_it():
    graph, book = dumbbell(), CircuitBook()
    crossing = book.reserve(graph, 's1', 's3', 1e6)
    other = book.reserve(graph, 's4', 's3', 1e6)
    assert book.link_failed('s2', 's1') == [crossing]
    assert list(book.circuits) == [other.id]


def test_links_without_bandwidth_cannot_carry_reservations():
    graph = nx.Graph()
    graph.add_edge('s1', 's2')
    with pytest.raises(AdmissionError, match='s1-s2 has no bandwidth set'):
        CircuitBook().reserve(graph, 's1', 's2', 1e6)


@pytest.mark.parametrize('args, words', [(('s1', 's9', 1e6), "'s9' is not a switch"), (('s1', 's2', 0), 'above 0')])
def test_bad_requests(args, words):
    with pytest.raises(AdmissionError, match=words):
        CircuitBook().reserve(dumbbell(), *args)


def test_circuits_survive_a_restart_as_plain_data():
    graph, book = dumbbell(), CircuitBook()
    first = book.reserve(graph, 's1', 's3', 6e6, 'a', 'b')
    book.reserve(graph, 's1', 's3', 6e6)
    rows = json.loads(json.dumps(book.rows()))  # what the controller writes next to the plan
    restored = CircuitBook()
    assert restored.restore([]) == []
    assert sorted(c.id for c in restored.restore(rows)) == [1, 2]
    assert restored.circuits[1] == first and restored.residual(graph, 's1', 's2') == 4e6
    assert restored.reserve(graph, 's1', 's2', 1e6).id == 3  # ids continue


def test_a_user_admission_function_decides_on_the_fewest_hops(tmp_path):
    calls = []

    def admit(links, rate):
        calls.append((links, rate))
        return (False, 'no thanks') if rate > 5e6 else (True, '')
    graph, book = dumbbell(), CircuitBook(admission=admit)
    circuit = book.reserve(graph, 's1', 's3', 5e6)
    assert circuit.path == ('s1', 's2', 's3')
    assert calls[0] == ([{'name': 's1-s2', 'capacity': 10e6, 'reserved': 0}, {'name': 's2-s3', 'capacity': 100e6,
                                                                              'reserved': 0}], 5e6)
    with pytest.raises(AdmissionError, match='refused: no thanks'):
        book.reserve(graph, 's1', 's3', 6e6)
    broken = CircuitBook(admission=lambda links, rate: 1 / 0)
    with pytest.raises(AdmissionError, match='the admission function failed: ZeroDivisionError'):
        broken.reserve(graph, 's1', 's3', 1e6)
