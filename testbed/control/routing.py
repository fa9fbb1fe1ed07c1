"""Route computation, the control plane's pure core: topology + address plan -> forwarding tables.

The lecture's split: the control plane computes forwarding tables from a global view (the topology), per network
event; the data plane only looks destinations up, per packet. This module is the computation: no switches, no
sockets, no root, so it is unit-tested directly and is what a student replaces in the routing lab.

A topology is a ``networkx.Graph`` of switches; each edge carries ``ports`` ({switch: its port on this link}),
``delay`` (seconds) and ``bw`` (bits/s, or None). Destinations are prefixes attached to a switch port (an
``Attachment``). A forwarding table maps each prefix to an output port and the neighbour behind it, longest prefix
first. Two algorithms, selectable per run: link-state (Dijkstra from a global view) and distance-vector
(Bellman-Ford run as synchronous rounds of neighbour exchanges, reporting the rounds it took). Ties are broken
deterministically: lowest cost, then the neighbour whose name sorts first.
"""
import copy
import functools
import ipaddress
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple, Union

import networkx as nx

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

METRICS = ('hops', 'delay', 'bandwidth')
ALGORITHMS = ('link-state', 'distance-vector')
MODULE_ALGORITHM = 'module:'  # 'module:/path/to/file.py': a file whose next_hops(graph, source) routes (the lab)
REFERENCE_BW = 10e9  # inverse-bandwidth metric: cost = REFERENCE_BW / bw, as OSPF's reference bandwidth


class RoutingError(Exception):
    """The topology or address plan cannot be routed (unknown switch, bad prefix, ...)."""


@dataclass(frozen=True)
class Attachment:
    """A destination prefix reachable through a switch port (a host's subnet, a router's networks)."""

    prefix: str     # '10.0.1.0/24' or '2001:db8:1::/64'
    switch: str     # the switch it hangs off
    port: int       # that switch's port toward it
    name: str = ''  # what is there, for tables in the lecture's form ('UCB', 'h1', 'relay')
    next_hop_mac: str = ''  # the host's or router's MAC on that port

    @property
    def network(self) -> Network:
        return _network(self.prefix)


@dataclass(frozen=True)
class Route:
    """One forwarding-table entry at one switch."""

    prefix: str
    port: int
    neighbour: str       # the next switch, or the attached destination's name for a local delivery
    cost: float
    local: bool = False  # delivered on this switch's own port (no further switch)

    @property
    def network(self) -> Network:
        return _network(self.prefix)


@dataclass
class RoutingResult:
    """Forwarding tables of every switch, and how the algorithm got there."""

    tables: dict                      # switch -> [Route], longest prefix first
    algorithm: str
    metric: str
    rounds: int = 0                   # distance-vector: exchanges until no vector changed
    distances: dict = field(default_factory=dict)  # switch -> {destination switch: cost}


def link_cost(data: dict, metric: str) -> float:
    """The cost of one link under a metric."""
    if metric == 'hops':
        return 1.0
    if metric == 'delay':
        return max(float(data.get('delay') or 0.0), 1e-6)  # an undelayed link still costs something
    if metric == 'bandwidth':
        bw = data.get('bw')
        return REFERENCE_BW / bw if bw else 1.0
    raise RoutingError(f'unknown metric {metric!r} (known: {", ".join(METRICS)})')


def _check(graph, attachments):
    for attachment in attachments:
        if attachment.switch not in graph:
            raise RoutingError(f'{attachment.name or attachment.prefix} is attached to unknown switch '
                               f'{attachment.switch!r}')
        try:
            attachment.network
        except ValueError:
            raise RoutingError(f'{attachment.name or attachment.switch}: bad prefix {attachment.prefix!r}') from None
    for a, b, data in graph.edges(data=True):
        ports = data.get('ports') or {}
        if a not in ports or b not in ports:
            raise RoutingError(f'link {a}-{b} does not say which port each end uses')


def _link_state_distances(graph, metric):
    """All-pairs distances: Dijkstra from each switch (the global view of link-state routing)."""
    weight = lambda a, b, data: link_cost(data, metric)  # noqa: E731 - networkx wants a callable
    return {node: dict(nx.single_source_dijkstra_path_length(graph, node, weight=weight)) for node in graph}


def _distance_vector(graph, metric):
    """Synchronous Bellman-Ford: every round each switch hears its neighbours' previous vectors."""
    vectors = {node: {node: 0.0} for node in graph}
    rounds = 0
    while True:
        changed = False
        new_vectors = {}
        for node in sorted(graph):
            vector = {node: 0.0}
            for neighbour in sorted(graph[node]):
                cost = link_cost(graph[node][neighbour], metric)
                for dest, distance in vectors[neighbour].items():
                    if cost + distance < vector.get(dest, float('inf')):
                        vector[dest] = cost + distance
            new_vectors[node] = vector
            changed |= vector != vectors[node]
        vectors = new_vectors
        if not changed:
            return vectors, rounds
        rounds += 1
        if rounds > len(graph) + 1:
            raise RoutingError('distance-vector did not converge (negative or inconsistent costs?)')


def _next_hop(graph, node, dest, distances, metric):
    """The neighbour of ``node`` on a shortest path to ``dest``: lowest cost, then lowest name."""
    best = None
    for neighbour in sorted(graph[node]):
        remaining = distances[neighbour].get(dest)
        if remaining is None:
            continue
        cost = link_cost(graph[node][neighbour], metric) + remaining
        if best is None or cost < best[0] - 1e-12:
            best = (cost, neighbour)
    return best


def next_hops(costs: Dict[str, Dict[str, float]], source: str) -> Dict[str, list]:
    """The routing lab's interface computed the testbed's way (link-state, the same tie rule): from
    ``{switch: {neighbour: link cost}}`` to ``{destination: [cost, first hop]}`` for every other reachable switch."""
    graph = nx.Graph()
    graph.add_nodes_from(costs)
    for a, links in costs.items():
        for b, cost in links.items():
            graph.add_edge(a, b, delay=float(cost))  # the delay metric takes a link's cost as given
    distances = _link_state_distances(graph, 'delay')
    return {dest: list(_next_hop(graph, source, dest, distances, 'delay'))
            for dest in distances[source] if dest != source}


def _module_next_hops(graph, metric, user_next_hops):
    """Run a user's ``next_hops(graph, source)`` (the routing lab's interface) for every switch and check it.

    The user sees plain data: ``{switch: {neighbour: link cost}}`` and a source switch, and returns
    ``{destination: [cost, first-hop neighbour]}`` for every other reachable switch."""
    costs = {node: {neighbour: link_cost(graph[node][neighbour], metric) for neighbour in graph[node]}
             for node in graph}
    result = {}
    for node in sorted(graph):
        try:
            answer = user_next_hops(copy.deepcopy(costs), node)
        except Exception as exc:
            raise RoutingError(f'next_hops(graph, {node!r}) raised {type(exc).__name__}: {exc}') from None
        if not isinstance(answer, dict):
            raise RoutingError(f'next_hops(graph, {node!r}) returned {type(answer).__name__}, not a dict')
        hops = {}
        for dest, value in answer.items():
            try:
                cost, neighbour = value
                cost = float(cost)
            except (TypeError, ValueError):
                raise RoutingError(f'next_hops(graph, {node!r})[{dest!r}] is {value!r}, not [cost, neighbour]') \
                    from None
            if dest == node or dest not in graph or neighbour not in graph[node]:
                raise RoutingError(f'next_hops(graph, {node!r}) sends {dest!r} to {neighbour!r}, which is not a '
                                   f'neighbour of {node!r} (or {dest!r} is not another switch)')
            hops[dest] = (cost, neighbour)
        result[node] = hops
    return result


def compute_routes(graph: nx.Graph, attachments: List[Attachment], algorithm: Union[str, Callable] = 'link-state',
                   metric: str = 'hops') -> RoutingResult:
    """Forwarding tables for every switch of ``graph`` toward every attachment (unreachable ones are left out).

    ``algorithm`` is 'link-state', 'distance-vector' or a user's ``next_hops(graph, source)`` function (loaded from
    the file of a 'module:PATH' algorithm by the caller; see ``_module_next_hops``)."""
    if callable(algorithm):
        return _compute_with_module(graph, attachments, algorithm, metric)
    if algorithm not in ALGORITHMS:
        raise RoutingError(f'unknown algorithm {algorithm!r} (known: {", ".join(ALGORITHMS)})')
    if metric not in METRICS:
        raise RoutingError(f'unknown metric {metric!r} (known: {", ".join(METRICS)})')
    _check(graph, attachments)
    rounds = 0
    if algorithm == 'link-state':
        distances = _link_state_distances(graph, metric)
    else:
        distances, rounds = _distance_vector(graph, metric)
    tables = {}
    for node in sorted(graph):
        routes = []
        hops = {}  # destination switch -> next hop: shared by every prefix attached there
        for attachment in attachments:
            if attachment.switch == node:
                routes.append(Route(attachment.prefix, attachment.port, attachment.name or attachment.prefix, 0.0,
                                    local=True))
                continue
            if attachment.switch not in hops:
                hops[attachment.switch] = _next_hop(graph, node, attachment.switch, distances, metric)
            hop = hops[attachment.switch]
            if hop is None:
                continue  # unreachable from here (partitioned)
            cost, neighbour = hop
            port = graph[node][neighbour]['ports'][node]
            routes.append(Route(attachment.prefix, port, neighbour, cost))
        tables[node] = sort_table(_nearest_per_prefix(routes))
    return RoutingResult(tables, algorithm, metric, rounds, distances)


def _compute_with_module(graph, attachments, algorithm, metric):
    if metric not in METRICS:
        raise RoutingError(f'unknown metric {metric!r} (known: {", ".join(METRICS)})')
    _check(graph, attachments)
    next_hops = _module_next_hops(graph, metric, algorithm)
    tables = {}
    for node in sorted(graph):
        routes = []
        for attachment in attachments:
            if attachment.switch == node:
                routes.append(Route(attachment.prefix, attachment.port, attachment.name or attachment.prefix, 0.0,
                                    local=True))
            elif attachment.switch in next_hops[node]:
                cost, neighbour = next_hops[node][attachment.switch]
                routes.append(Route(attachment.prefix, graph[node][neighbour]['ports'][node], neighbour, cost))
        tables[node] = sort_table(_nearest_per_prefix(routes))
    distances = {node: {dest: hop[0] for dest, hop in hops.items()} for node, hops in next_hops.items()}
    return RoutingResult(tables, 'module', metric, 0, distances)


def _nearest_per_prefix(routes):
    """One route per prefix: a prefix attached at several switches (anycast, e.g. the 6to4 relays'
    192.88.99.0/24) is reached at the nearest one; ties go to local delivery, then the lowest neighbour name."""
    best = {}
    for route in routes:
        key = (not route.local, route.cost, route.neighbour)
        if route.prefix not in best or key < best[route.prefix][0]:
            best[route.prefix] = (key, route)
    return [route for _, route in best.values()]


@functools.lru_cache(maxsize=65536)
def _network(prefix: str) -> Network:
    """Parsed once per prefix: tables of many switches share their prefixes (a 100-switch grid: 20,000 routes,
    200 prefixes), and parsing dominated the computation."""
    return ipaddress.ip_network(prefix, strict=False)


@functools.lru_cache(maxsize=65536)
def _order(prefix):
    network = _network(prefix)
    return network.version, -network.prefixlen, int(network.network_address)


def sort_table(routes: List[Route]) -> List[Route]:
    """Longest prefix first; IPv4 before IPv6; then by address, for a stable order."""
    return sorted(routes, key=lambda r: _order(r.prefix))


def aggregate_table(routes: List[Route]) -> List[Route]:
    """The same forwarding with fewer entries: the prefixes routed through one port to one neighbour merge where
    two are the halves of one prefix (10.0.2.0/24 and 10.0.3.0/24 -> 10.0.2.0/23), again and again. An aggregate
    covers only addresses its members covered, so no destination changes its way and none without a route gets
    one. Local deliveries stay one per prefix (each rewrites to its own host's MAC). A family whose prefixes nest
    is left as it is: there a longest match decides, and merging could change it. An aggregate's cost is its
    farthest member's."""
    kept: List[Route] = []
    groups: Dict[Tuple[int, int, str], List[Route]] = {}
    for version in (4, 6):
        family = [route for route in routes if route.network.version == version]
        if not _disjoint([route.network for route in family]):
            kept += family
            continue
        for route in family:
            if route.local:
                kept.append(route)
            else:
                groups.setdefault((version, route.port, route.neighbour), []).append(route)
    for (version, port, neighbour), members in groups.items():
        bits = 32 if version == 4 else 128
        merged: List[List] = []   # [first address, prefix length, cost], in address order
        for route in sorted(members, key=lambda route: int(route.network.network_address)):
            merged.append([int(route.network.network_address), route.network.prefixlen, route.cost])
            while len(merged) > 1 and _halves(merged[-2], merged[-1], bits):
                last = merged.pop()
                merged[-1] = [merged[-1][0], last[1] - 1, max(merged[-1][2], last[2])]
        network_type = ipaddress.IPv4Network if version == 4 else ipaddress.IPv6Network
        kept += [Route(str(network_type((address, length))), port, neighbour, cost)
                 for address, length, cost in merged]
    return sort_table(kept)


def _halves(first: list, second: list, bits: int) -> bool:
    """Whether two prefixes ([address, length, cost]) are the lower and upper half of one prefix."""
    size = 1 << (bits - first[1])
    return first[1] == second[1] > 0 and first[0] % (2 * size) == 0 and second[0] == first[0] + size


def _disjoint(networks: List[Network]) -> bool:
    ordered = sorted(networks, key=lambda network: int(network.network_address))
    return all(int(first.broadcast_address) < int(second.network_address)
               for first, second in zip(ordered, ordered[1:]))


def lookup(table: List[Route], address: str) -> Optional[Route]:
    """The route a destination address takes: the longest matching prefix (what the data plane does)."""
    parsed = ipaddress.ip_address(address)
    for route in table:  # sorted longest prefix first
        if route.network.version == parsed.version and parsed in route.network:
            return route
    return None


def table_diff(old: List[Route], new: List[Route]) -> Tuple[List[Route], List[str]]:
    """What changed between two tables of one switch: (added or changed routes, removed prefixes)."""
    old_by_prefix = {route.prefix: route for route in old}
    new_by_prefix = {route.prefix: route for route in new}
    changed = [route for prefix, route in new_by_prefix.items()
               if prefix not in old_by_prefix or (old_by_prefix[prefix].port, old_by_prefix[prefix].neighbour)
               != (route.port, route.neighbour)]
    removed = [prefix for prefix in old_by_prefix if prefix not in new_by_prefix]
    return changed, removed
