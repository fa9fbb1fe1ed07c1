"""The router controller's decisions (pure): events and the time in, what to send out, in FAUCET's shape.

``RouterCore`` holds what the controller knows — the plan, which switches are connected, which links are up,
the tables installed, the circuits, the meters, the timeline — and each event method returns ``Command`` objects
for the Ryu app (``controllers/router.py``) to turn into OpenFlow messages. The app owns only sockets and Ryu;
every choice (when to compute, what changed, what to delete, which meters, what to answer) is made here and
tested without root or switches (``tests/unit/test_core.py``).

A route computation is one timeline entry: ``received`` (the event), ``computed``, ``sent`` and, once every
switch's barrier is back, ``acknowledged`` (wall-clock seconds from the ``clock`` the core is given).
"""
import collections
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Set, Tuple, Union

from testbed.control.circuits import AdmissionError, Circuit, CircuitBook
from testbed.control.flows import (COOKIE_CIRCUIT, FlowSpec, attachment_switch, attachments_from_plan,
                                   circuit_flows, gateway_owner, graph_from_plan, punt_flows, route_flows)
from testbed.control.packets import answer
from testbed.control.routing import RoutingError, aggregate_table, compute_routes, table_diff

LinkKey = Tuple[Tuple[str, int], Tuple[str, int]]
MIN_POLICED_BPS = 1e3     # a meter's rate may not be 0


@dataclass
class Command:
    """Something the app sends to one switch.

    ``kind``: 'async' (which packet-ins and port events to send), 'flows' (add ``specs``), 'route_count' (ask how
    many route entries it holds), 'route_dump' (ask for them), 'bundle' (``specs`` added and ``deletions`` removed
    as one atomic bundle followed by a barrier; ``entry`` is the timeline record its barrier acknowledges),
    'delete_cookie' (remove every entry with ``cookie``), 'delete_route' (remove one entry: ``priority``,
    ``match``), 'meters' (``meters``: {meter id: rate in bits/s} to set, of which ``meters_new`` are new;
    ``meters_removed``: ids to delete), 'packet' (send ``data`` out of ``port``)."""

    kind: str
    switch: str
    specs: List[FlowSpec] = field(default_factory=list)
    deletions: List[FlowSpec] = field(default_factory=list)
    entry: Optional[dict] = None
    cookie: int = 0
    priority: int = 0
    match: Optional[dict] = None
    meters: Dict[int, float] = field(default_factory=dict)
    meters_new: Set[int] = field(default_factory=set)
    meters_removed: Set[int] = field(default_factory=set)
    port: int = 0
    data: bytes = b''


def link_key(a: str, a_port: int, b: str, b_port: int) -> LinkKey:
    """One name for a link whichever end reports it."""
    first, second = sorted([(a, int(a_port)), (b, int(b_port))])
    return first, second


def route_key(priority: int, fields: dict) -> tuple:
    """What identifies a route entry: its priority and destination match (masks as tuples)."""
    return (priority,) + tuple((key, tuple(fields[key]) if isinstance(fields[key], (list, tuple)) else fields[key])
                               for key in ('eth_type', 'ipv4_dst', 'ipv6_dst') if key in fields)


class RouterCore:
    """The controller's state and decisions.

    ``algorithm``: 'link-state', 'distance-vector', or a loader that returns a user's ``next_hops`` function (or
    raises RoutingError), called for every computation since a lab's file may change; ``label`` names it in the
    status. ``admission``: a user's ``admit`` for circuit requests. ``clock``: wall-clock seconds. ``aggregate``:
    install each table with adjacent prefixes merged (``routing.aggregate_table``)."""

    def __init__(self, plan: dict, algorithm: Union[str, Callable[[], Callable]] = 'link-state',
                 metric: str = 'hops', admission: Optional[Callable] = None,
                 clock: Callable[[], float] = lambda: 0.0, label: str = '', aggregate: bool = False):
        self.plan, self.algorithm, self.metric, self.clock = plan, algorithm, metric, clock
        self.aggregate = aggregate
        self.label = label or str(algorithm)
        self.name_of = {info['dpid']: name for name, info in plan['switches'].items()}
        self.planned_links = {link_key(link['a'], link['a_port'], link['b'], link['b_port']): link
                              for link in plan['links']}
        self.connected: Set[str] = set()
        self.links: Dict[LinkKey, dict] = {}   # the links up (discovered)
        self.down_ports: Set[Tuple[str, int]] = set()  # attachments whose port is down: prefixes withdrawn
        self.tables: Dict[str, list] = {}      # switch -> [Route] as installed
        self.held_routes: Dict[str, Optional[int]] = {}  # route entries a switch held on connecting
        self.ready = False
        self.rounds = 0
        self.error: Optional[str] = None       # why the last route computation failed
        self.timeline: List[dict] = []
        self.packet_ins: collections.Counter = collections.Counter()
        self.book = CircuitBook(admission=admission)
        self.meters: Dict[str, Dict[int, float]] = {}  # switch -> {port: best-effort rate} while circuits hold it

    # -- switches and links --------------------------------------------------------------------------------------
    def switch_connected(self, name: str) -> List[Command]:
        """A switch of the plan connected: punt its gateways' ARP/ND, ask what routes it holds, maybe start."""
        self.connected.add(name)
        self.held_routes[name] = None
        return ([Command('async', name), Command('flows', name, specs=punt_flows(name, self.plan)),
                 Command('route_count', name)] + self._maybe_start())

    def route_count(self, name: str, count: int) -> None:
        """How many route entries a switch held when it connected (a previous controller's, if any)."""
        if not self.ready:
            self.held_routes[name] = count

    def link_up(self, a: str, a_port: int, b: str, b_port: int) -> List[Command]:
        key = link_key(a, a_port, b, b_port)
        if key in self.links:
            return []
        planned = self.planned_links.get(key, {})
        self.links[key] = {'a': a, 'a_port': a_port, 'b': b, 'b_port': b_port,
                           'delay': planned.get('delay', 0.0), 'bw': planned.get('bw')}
        if self.ready:
            return self.reconverge(f'link {a}:{a_port}-{b}:{b_port} up (LLDP)', self.clock())
        return self._maybe_start()

    def link_down(self, key: LinkKey, why: str, received: float) -> List[Command]:
        """A link failed: circuits across it end, routes go around it."""
        link = self.links.pop(key, None)
        if link is None or not self.ready:
            return []
        torn = self.book.link_failed(link['a'], link['b'])
        commands = [Command('delete_cookie', switch, cookie=COOKIE_CIRCUIT + circuit.id)
                    for circuit in torn for switch in circuit.path if switch in self.connected]
        entries = len(self.timeline)
        commands += self.reconverge(why, received)
        if torn:
            if len(self.timeline) > entries:  # (no entry when the computation failed)
                self.timeline[-1]['circuits_torn_down'] = [circuit.id for circuit in torn]
            commands += self.police()
        return commands

    def port_status(self, name: str, port: int, down: bool, received: float) -> List[Command]:
        """A port went up or down: an attachment's prefixes are withdrawn or restored; a link's end down fails it."""
        if any((a['switch'], a['port']) == (name, port) for a in self.plan['attachments']):
            if down == ((name, port) in self.down_ports):
                return []
            (self.down_ports.add if down else self.down_ports.discard)((name, port))
            return self.reconverge(f'attachment port {name}:{port} {"down" if down else "up"} (PortStatus)',
                                   received) if self.ready else []
        if not down:
            return []
        commands = []
        for key in [key for key in self.links if (name, port) in key]:
            commands += self.link_down(key, f'port {name}:{port} down (PortStatus)', received)
        return commands

    def _maybe_start(self) -> List[Command]:
        """Once every switch is connected and every planned link seen: compute, install, then reconcile."""
        if self.ready or self.connected != set(self.plan['switches']) or not set(self.planned_links) <= set(
                self.links):
            return []
        commands = self.reconverge('initial: all switches connected, all links discovered', self.clock())
        if self.book.circuits:  # restored after a restart: the switches kept them; install again to be sure
            graph = self.graph()
            for circuit in self.book.circuits.values():
                commands += [Command('flows', switch, specs=specs)
                             for switch, specs in circuit_flows(circuit, self.plan, graph).items()]
            commands += self.police()
        self.ready = True
        # reconcile with what a previous controller left, where the switch held route entries before
        commands += [Command('route_dump', name) for name in sorted(self.connected) if self.held_routes.get(name) != 0]
        return commands

    def stale_routes(self, name: str, held: List[Tuple[int, dict]]) -> List[Command]:
        """The route entries a switch holds, as (priority, match fields), that the current tables do not want."""
        wanted = {route_key(spec.priority, dict(spec.match))
                  for spec in route_flows(name, self.tables.get(name, []), self.plan)}
        return [Command('delete_route', name, priority=priority, match=fields) for priority, fields in held
                if route_key(priority, fields) not in wanted]

    # -- computing and installing ------------------------------------------------------------------------------
    def graph(self):
        return graph_from_plan(self.plan, links=list(self.links.values()))

    def reconverge(self, why: str, received: float) -> List[Command]:
        """Compute every table; send each switch what changed as one bundle; record the timeline entry."""
        entry: dict = {'event': why, 'received': received}
        try:
            algorithm = self.algorithm() if callable(self.algorithm) else self.algorithm
            result = compute_routes(self.graph(), attachments_from_plan(self.plan, self.down_ports), algorithm,
                                    self.metric)
        except RoutingError as exc:  # e.g. a user's routing module (lab 2) failed: say so instead of hanging
            self.error = f'route computation failed ({why}): {exc}'
            return []
        self.error = None
        entry['computed'] = self.clock()
        self.rounds = result.rounds
        commands = []
        for switch, routes in result.tables.items():
            if switch not in self.connected:
                continue
            if self.aggregate:
                routes = aggregate_table(routes)
            old = {route.prefix: route for route in self.tables.get(switch, [])}
            changed, removed = table_diff(self.tables.get(switch, []), routes)
            meters = self.meter_ids(switch)
            added = route_flows(switch, changed, self.plan, meters)
            deleted = route_flows(switch, [old[prefix] for prefix in removed], self.plan, meters)
            self.tables[switch] = routes
            if added or deleted:
                entry['waiting'] = entry.get('waiting', 0) + 1
                commands.append(Command('bundle', switch, specs=added, deletions=deleted, entry=entry))
        entry.update(flow_mods=sum(len(c.specs) + len(c.deletions) for c in commands), algorithm=result.algorithm,
                     rounds=result.rounds)
        self.timeline.append(entry)
        return commands

    def sent(self, entry: dict) -> None:
        """The app sent an entry's bundles (``acknowledged`` at once if there was nothing to send)."""
        entry['sent'] = self.clock()
        if not entry.get('waiting') and 'acknowledged' not in entry:  # (a barrier can come back first)
            entry['acknowledged'] = entry['sent']

    def acknowledged(self, entry: dict) -> None:
        """One switch's barrier for ``entry`` came back; the last one marks the entry acknowledged."""
        entry['waiting'] -= 1
        entry.setdefault('first_acknowledged', self.clock())
        if entry['waiting'] == 0:
            entry['acknowledged'] = self.clock()

    # -- circuits ------------------------------------------------------------------------------------------------
    def meter_ids(self, switch: str) -> Dict[int, int]:
        return {port: port for port in self.meters.get(switch, {})}  # one meter per policed port, id = port

    def reserve(self, src: str, dst: str, rate: float) -> Tuple[Circuit, List[Command]]:
        """Admit a circuit between two hosts (AdmissionError says why not): its flows, then the policing."""
        src_switch, dst_switch = attachment_switch(self.plan, src), attachment_switch(self.plan, dst)
        if src_switch is None or dst_switch is None:
            raise AdmissionError(f'unknown host {src if src_switch is None else dst!r}')
        graph = self.graph()
        circuit = self.book.reserve(graph, src_switch, dst_switch, rate, src, dst)
        commands = [Command('flows', switch, specs=specs)
                    for switch, specs in circuit_flows(circuit, self.plan, graph).items()]
        return circuit, commands + self.police()

    def teardown(self, circuit_id: Union[int, str]) -> Tuple[Circuit, List[Command]]:
        circuit = self.book.teardown(circuit_id)
        commands = [Command('delete_cookie', switch, cookie=COOKIE_CIRCUIT + circuit.id)
                    for switch in circuit.path if switch in self.connected]
        return circuit, commands + self.police()

    def police(self) -> List[Command]:
        """Police best effort on every link a circuit holds, at the capacity the circuits leave over: meters to
        set, and the route entries of the ports whose policing changed, re-sent with or without their meter."""
        graph = self.graph()
        commands = []
        for switch in sorted(self.connected):
            wanted = {}
            for neighbour in graph[switch]:
                left = self.book.residual(graph, switch, neighbour)  # None: a link without bw, nothing to police
                if self.book.reserved(switch, neighbour) > 0 and left is not None:
                    wanted[graph[switch][neighbour]['ports'][switch]] = max(MIN_POLICED_BPS, left)
            current = self.meters.get(switch, {})
            if wanted == current:
                continue
            self.meters[switch] = wanted
            ports = set(wanted) | set(current)
            commands.append(Command('meters', switch, meters=dict(wanted), meters_new=set(wanted) - set(current)))
            policed = [route for route in self.tables.get(switch, []) if route.port in ports]
            commands.append(Command('flows', switch,
                                    specs=route_flows(switch, policed, self.plan, self.meter_ids(switch))))
            if set(current) - set(wanted):
                commands.append(Command('meters', switch, meters_removed=set(current) - set(wanted)))
        return commands

    # -- packets and reports -------------------------------------------------------------------------------------
    def packet_in(self, name: str, port: int, frame: bytes, ttl_expired: bool) -> List[Command]:
        """ARP and neighbour solicitations for gateways, and expired packets: answered as the router would."""
        kind, reply = answer(frame, self.plan['switches'][name], ttl_expired,
                             lambda address: gateway_owner(self.plan, name, address) is not None)
        if kind != 'lldp':  # link discovery's own packets are ryu.topology's business
            self.packet_ins[kind] += 1
        return [Command('packet', name, port=port, data=reply)] if reply else []

    def status(self) -> dict:
        """``ready`` once every table is installed: the initial FlowMods acknowledged by every switch."""
        installed = self.ready and bool(self.timeline) and 'acknowledged' in self.timeline[0]
        return {'ready': installed, 'switches': sorted(self.connected),
                'expected_switches': len(self.plan['switches']), 'links_up': len(self.links),
                'planned_links': len(self.planned_links), 'algorithm': self.label,
                'metric': self.metric, 'rounds': self.rounds, 'packet_ins': dict(self.packet_ins), 'error': self.error}

    def topology(self) -> dict:
        return {'switches': {name: {'dpid': info['dpid'], 'connected': name in self.connected}
                             for name, info in self.plan['switches'].items()},
                'links': sorted(self.links.values(), key=lambda link: (link['a'], link['a_port'])),
                'attachments': self.plan['attachments']}

    def table_rows(self) -> dict:
        return {switch: [{'prefix': r.prefix, 'port': r.port, 'neighbour': r.neighbour, 'cost': r.cost}
                         for r in routes] for switch, routes in self.tables.items()}

    def circuit_rows(self) -> dict:
        graph = self.graph()
        return {'circuits': [{'id': c.id, 'src': c.src, 'dst': c.dst, 'rate': c.rate, 'path': list(c.path)}
                             for c in self.book.circuits.values()],
                'links': [{'link': f'{a}-{b}', 'capacity': data.get('bw'), 'reserved': self.book.reserved(a, b)}
                          for a, b, data in graph.edges(data=True) if data.get('bw')]}
