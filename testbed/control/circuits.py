"""Circuit switching (the lecture's reservations) on top of the packet network: admission control, pure.

A circuit is a reservation of ``rate`` bits/s from one attachment to another along a path whose every link has
that much unreserved capacity; it is admitted or refused with the reason, torn down on request, and torn down
(and reported) when a link it crosses fails. Capacity is the link's ``bw``: a link without one cannot carry a
reservation. The data plane enforces it by policing best effort on each link to the capacity left over
(``best_effort_rate``), so reserved traffic always finds its share.
"""
import itertools
from dataclasses import dataclass
from typing import List, Optional, Union

import networkx as nx


class AdmissionError(Exception):
    """A reservation that cannot be admitted; the message says why."""


@dataclass(frozen=True)
class Circuit:
    id: int
    src: str
    dst: str
    rate: float          # bits/s
    path: tuple          # switches, source side first
    links: tuple         # ((switch, switch), ...) along the path, as sorted pairs


def _pair(a, b):
    return tuple(sorted((a, b)))


class CircuitBook:
    """The reservations in force, and the capacity they leave on each link.

    ``admission``: a callable ``admit(path_links, rate) -> (ok, reason)`` deciding each request on the fewest-hops
    path (``path_links``: [{'name', 'capacity', 'reserved'}] in bits/s, capacity None for a link without ``bw``),
    instead of the built-in rule (the fewest hops among links with enough unreserved capacity)."""

    def __init__(self, admission=None):
        self.circuits = {}
        self._ids = itertools.count(1)
        self.admission = admission

    def reserved(self, a: str, b: str) -> float:
        pair = _pair(a, b)
        return sum(c.rate for c in self.circuits.values() if pair in c.links)

    def residual(self, graph: nx.Graph, a: str, b: str) -> Optional[float]:
        capacity = graph[a][b].get('bw')
        return None if capacity is None else capacity - self.reserved(a, b)

    def best_effort_rate(self, graph: nx.Graph, a: str, b: str) -> Optional[float]:
        """What best effort may use on link a-b: its capacity less the reservations (None: unlimited)."""
        return self.residual(graph, a, b)

    def reserve(self, graph: nx.Graph, src_switch: str, dst_switch: str, rate: float, src: str = '',
                dst: str = '') -> Circuit:
        """Admit a circuit of ``rate`` between two switches, on the fewest hops with enough capacity."""
        if not rate or rate <= 0:
            raise AdmissionError(f'rate {rate!r} must be above 0')
        if src and src == dst:
            raise AdmissionError(f'a circuit joins two different hosts, not {src} to itself')
        for switch in (src_switch, dst_switch):
            if switch not in graph:
                raise AdmissionError(f'{switch!r} is not a switch of this network')
        if self.admission:
            return self._reserve_by(graph, src_switch, dst_switch, rate, src, dst)
        usable = nx.Graph()
        usable.add_nodes_from(graph)
        short = []
        for a, b, data in graph.edges(data=True):
            left = self.residual(graph, a, b)
            if left is not None and left >= rate:
                usable.add_edge(a, b)
            else:
                short.append(f'{a}-{b} ' + ('has no bandwidth set' if left is None
                                            else f'has {left / 1e6:g} Mb/s unreserved'))
        try:
            path = min(nx.all_shortest_paths(usable, src_switch, dst_switch), key=tuple)
        except nx.NetworkXNoPath:
            raise AdmissionError(f'no path from {src or src_switch} to {dst or dst_switch} with {rate / 1e6:g} Mb/s '
                                 f'unreserved on every link ({"; ".join(sorted(short)) or "disconnected"})') from None
        return self._admit(src_switch, dst_switch, rate, path, src, dst)

    def _reserve_by(self, graph, src_switch, dst_switch, rate, src, dst):
        try:
            path = min(nx.all_shortest_paths(graph, src_switch, dst_switch), key=tuple)
        except nx.NetworkXNoPath:
            raise AdmissionError(f'no path from {src or src_switch} to {dst or dst_switch}') from None
        links = [{'name': f'{a}-{b}', 'capacity': graph[a][b].get('bw'), 'reserved': self.reserved(a, b)}
                 for a, b in zip(path, path[1:])]
        try:
            ok, reason = self.admission(links, float(rate))
        except Exception as exc:
            raise AdmissionError(f'the admission function failed: {type(exc).__name__}: {exc}') from None
        if not ok:
            raise AdmissionError(f'refused: {reason}')
        return self._admit(src_switch, dst_switch, rate, path, src, dst)

    def _admit(self, src_switch, dst_switch, rate, path, src, dst):
        circuit = Circuit(next(self._ids), src or src_switch, dst or dst_switch, float(rate), tuple(path),
                          tuple(_pair(a, b) for a, b in zip(path, path[1:])))
        self.circuits[circuit.id] = circuit
        return circuit

    def rows(self) -> List[dict]:
        """The circuits in force as plain data (JSON), for a restarted controller's ``restore``."""
        return [{'id': c.id, 'src': c.src, 'dst': c.dst, 'rate': c.rate, 'path': list(c.path),
                 'links': [list(link) for link in c.links]} for c in self.circuits.values()]

    def restore(self, rows: List[dict]) -> List[Circuit]:
        """Take back the circuits of ``rows()``; ids continue after the highest."""
        for row in rows:
            circuit = Circuit(int(row['id']), row['src'], row['dst'], float(row['rate']), tuple(row['path']),
                              tuple(tuple(link) for link in row['links']))
            self.circuits[circuit.id] = circuit
        self._ids = itertools.count(max(self.circuits, default=0) + 1)
        return list(self.circuits.values())

    def teardown(self, circuit_id: Union[int, str]) -> Circuit:
        try:
            return self.circuits.pop(int(circuit_id))
        except (KeyError, ValueError):
            raise AdmissionError(f'no circuit {circuit_id!r}') from None

    def link_failed(self, a: str, b: str) -> List[Circuit]:
        """Tear down and return the circuits that crossed link a-b."""
        pair = _pair(a, b)
        gone = [c for c in self.circuits.values() if pair in c.links]
        for circuit in gone:
            del self.circuits[circuit.id]
        return gone
