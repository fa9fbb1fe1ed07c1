"""The web view's data as pure functions: what the page draws and how requests are checked.

- ``node_kind``: the kind the page draws a node as (host, switch, router, 6to4 router, relay, tunnel endpoint,
  translator, DNS), from the names of its classes;
- ``layout``: positions in the unit square, readable up to a few hundred nodes (networkx's spring layout, seeded);
- ``parse_net_dev``, ``parse_qdiscs`` and ``link_loads``: each link's load per direction (bits/s, packets/s,
  drops/s, the sender's queue, the delay line's frames in flight and losses) and state, from two ``Sample``s of the
  interface counters (``/proc/PID/net/dev`` of each end's namespace), the qdiscs and the delay lines' stats;
- ``find_link``, ``bounded``, ``names``, ``result_file``, ``route``: what a request names, or the 4xx it gets.
"""
import json
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from testbed.errors import RequestRefused

# (class name, kind): the first of a node's classes (most derived first) found here gives its kind
KINDS = (('SixToFourRelay', 'relay'), ('SixToFourRouter', '6to4 router'), ('Nat64Router', 'translator'),
         ('ClatHost', 'translator'), ('TunnelBroker', 'tunnel broker'), ('IsatapRouter', 'router'),
         ('DnsServer', 'DNS'), ('AuthoritativeDns', 'DNS'), ('TunnelEndpoint', 'tunnel endpoint'),
         ('Router', 'router'), ('IPv6Router', 'router'), ('OVSSwitch', 'switch'), ('Switch', 'switch'),
         ('Host', 'host'), ('Node', 'host'))


class WebRequestError(RequestRefused):
    """A request the view refuses: ``status`` is the HTTP status, the message its one line."""


@dataclass(frozen=True)
class Counters:
    """One interface's counters, as the kernel keeps them (received and transmitted)."""
    rx_bytes: int
    rx_packets: int
    rx_drops: int
    tx_bytes: int
    tx_packets: int
    tx_drops: int


def node_kind(class_names: Sequence[str]) -> str:
    for name in class_names:
        for known, kind in KINDS:
            if name == known:
                return kind
    return 'host'


def layout(nodes: Sequence[str], links: Sequence[Tuple[str, str]], seed: int = 1) -> Dict[str, List[float]]:
    """{node: [x, y]} with x and y in [0.05, 0.95]; the same network always gets the same picture."""
    import networkx   # here: the command line imports this module for DEFAULT_PORT alone
    graph = networkx.Graph()
    graph.add_nodes_from(sorted(nodes))
    graph.add_edges_from(sorted(tuple(sorted(link)) for link in links))
    if len(nodes) == 1:
        return {nodes[0]: [0.5, 0.5]}
    parts = [graph.subgraph(part) for part in networkx.connected_components(graph)]
    positions: Dict[str, Tuple[float, float]] = {}
    offset = 0.0
    for part in sorted(parts, key=lambda g: (-len(g), sorted(g)[0])):   # components side by side, largest first
        placed = (networkx.spring_layout(part, seed=seed, iterations=200) if len(part) > 1
                  else {next(iter(part)): (0.0, 0.0)})
        width = math.sqrt(len(part))
        for name, (x, y) in placed.items():
            positions[name] = (offset + (x + 1) / 2 * width, (y + 1) / 2)
        offset += width + 0.5
    xs = [x for x, _ in positions.values()]
    span = (max(xs) - min(xs)) or 1.0
    return {name: [round(float(0.05 + 0.9 * (x - min(xs)) / span), 4), round(float(0.05 + 0.9 * y), 4)]
            for name, (x, y) in positions.items()}


def parse_net_dev(text: str) -> Dict[str, Counters]:
    """The counters of every interface in a ``/proc/net/dev`` text."""
    counters = {}
    for line in text.splitlines()[2:]:
        name, _, fields = line.partition(':')
        values = fields.split()
        if len(values) < 12:
            continue
        counters[name.strip()] = Counters(int(values[0]), int(values[1]), int(values[3]), int(values[8]),
                                          int(values[9]), int(values[11]))
    return counters


def parse_qdiscs(text: str) -> Dict[str, Dict[str, int]]:
    """{device: its root qdisc's backlog (bytes, packets) and drops} from ``tc -s -j qdisc show``: the queue a
    shaped link's sender holds (HTB on the kernel path; its leaf classes add up in the root)."""
    queues = {}
    for qdisc in json.loads(text or '[]'):
        if qdisc.get('root') and 'dev' in qdisc:
            queues[qdisc['dev']] = {'backlog_bytes': int(qdisc.get('backlog', 0)),
                                    'backlog_packets': int(qdisc.get('qlen', 0)), 'drops': int(qdisc.get('drops', 0))}
    return queues


def _queue(before: Optional[Dict], after: Optional[Dict], seconds: float) -> Optional[Dict]:
    if before is None or after is None or seconds <= 0 or after['drops'] < before['drops']:
        return None
    return {'packets': after['backlog_packets'], 'bytes': after['backlog_bytes'],
            'drops_per_s': (after['drops'] - before['drops']) / seconds}


def _line(before: Optional[Dict], after: Optional[Dict], direction: str) -> Optional[Dict]:
    """A delay line's direction between two of its stats files, over the time between their writing (``at``):
    frames in flight on the wire, lost (the link's ``loss``) and overflowed (more in flight than its limit) per
    second."""
    key = {'ab': 'a_to_b', 'ba': 'b_to_a'}[direction]
    if not before or not after or key not in before or key not in after:
        return None
    seconds = after.get('at', 0) - before.get('at', 0)
    if seconds <= 0:
        return None
    old, new = before[key], after[key]
    if new['received'] < old['received']:
        return None   # the delay line was restarted (a link cut and mended)
    return {'in_flight': new.get('in_flight', 0), 'received_per_s': (new['received'] - old['received']) / seconds,
            'lost_per_s': (new['lost'] - old['lost']) / seconds,
            'overflow_per_s': (new['overflow'] - old['overflow']) / seconds}


def _direction(before: Optional[Counters], after: Optional[Counters], seconds: float) -> Optional[Dict]:
    if before is None or after is None or seconds <= 0 or after.tx_bytes < before.tx_bytes:
        return None   # an end not seen twice, or its interface was recreated: no figure rather than a wrong one
    return {'bps': (after.tx_bytes - before.tx_bytes) * 8 / seconds,
            'pps': (after.tx_packets - before.tx_packets) / seconds,
            'drops_per_s': (after.tx_drops - before.tx_drops) / seconds}


@dataclass
class Sample:
    """Everything the load figures need, read at one moment (``at``, monotonic seconds): {node: {interface:
    Counters}}, the senders' root qdiscs {node: {interface: qdisc}}, the delay lines' counters {link id: their
    stats file}, and each link's end states {link id: {'a': state, 'b': state}} (``up``, ``down``, ``no carrier``,
    or None: not found)."""
    at: float
    counters: Dict[str, Dict[str, Counters]]
    queues: Dict[str, Dict[str, Dict[str, int]]] = field(default_factory=dict)
    lines: Dict[str, Dict] = field(default_factory=dict)
    states: Dict[str, Dict[str, Optional[str]]] = field(default_factory=dict)


def link_up(ends: Optional[Dict[str, Optional[str]]]) -> Optional[bool]:
    """A link carries frames when both its ends are up with a carrier; None when an end was not found."""
    if not ends or None in ends.values():
        return None
    return all(state == 'up' for state in ends.values())


def link_loads(links: Sequence[Dict], before: Sample, after: Sample) -> List[Dict]:
    """Each link's load in both directions: what each end transmitted into it between two samples, and its share
    of the link's rate; each sender's queue and its drops per second where it has one; the delay line's frames in
    flight and losses per second on the userspace path; and the link's state in the later sample."""
    seconds = after.at - before.at
    loads = []
    for link in links:
        ends = {}
        for direction, end, node, intf in (('ab', 'a', link['a'], link['a_intf']),
                                           ('ba', 'b', link['b'], link['b_intf'])):
            load = _direction(before.counters.get(node, {}).get(intf), after.counters.get(node, {}).get(intf),
                              seconds)
            if load is not None:
                queue = _queue(before.queues.get(node, {}).get(intf), after.queues.get(node, {}).get(intf), seconds)
                line = _line(before.lines.get(link['id']), after.lines.get(link['id']), direction)
                load.update({key: value for key, value in (('queue', queue), ('line', line)) if value})
            ends[direction] = load
        rate = link.get('bw')
        shares = [end['bps'] / rate for end in ends.values() if end and rate]
        state = after.states.get(link['id'])
        loads.append({'id': link['id'], **ends, 'utilisation': round(max(shares), 4) if shares else None,
                      'up': link_up(state), 'ends': state})
    return loads


def find_link(links: Sequence[Dict], a: str, b: str) -> Dict:
    """The link between nodes ``a`` and ``b`` (either order); 404 if there is none."""
    for link in links:
        if {link['a'], link['b']} == {a, b}:
            return link
    names = {link[end] for link in links for end in ('a', 'b')}
    missing = [name for name in (a, b) if name not in names]
    if missing:
        raise WebRequestError(f'no node {missing[0]!r} in this network', 404)
    raise WebRequestError(f'no link between {a} and {b}', 404)


# (method, path, what it answers or does, needs the token?): the routes, and the OpenAPI description made from them
API = (('GET', '/api/topology', 'nodes (kind, position) and links (interfaces, rate in bits/s, delay in seconds, up)',
        False),
       ('GET', '/api/loads', 'each link\'s load per direction (bits/s, packets/s, drops/s) and share of its rate',
        False),
       ('GET', '/api/tables', 'each switch\'s forwarding table, read from the switch, with packet counters', False),
       ('GET', '/api/control', 'the control plane\'s timeline (event, computed, sent, acknowledged) and circuits',
        False),
       ('GET', '/api/tunnels', 'tunnel and translator counters (encapsulated, decapsulated, drops by check)', False),
       ('POST', '/api/links/{a}/{b}/down', 'take the link between nodes a and b down (both ends)', True),
       ('POST', '/api/links/{a}/{b}/up', 'bring the link between nodes a and b back up', True),
       ('POST', '/api/circuits', 'reserve a circuit: {"src": host, "dst": host, "rate": bits/s}', True),
       ('DELETE', '/api/circuits/{circuit_id}', 'tear a circuit down', True),
       ('POST', '/api/ping', 'ping between two hosts: {"src", "dst", "count": 1-20}; RTTs and loss', True),
       ('POST', '/api/iperf', 'TCP goodput between two hosts with iperf3: {"src", "dst", "seconds": 1-10}', True),
       ('GET', '/api/captures', 'the captures taken, with their state and size', False),
       ('POST', '/api/captures', 'capture on a link: {"a", "b", "seconds": 1-30}; at most 10,000 packets', True),
       ('GET', '/api/captures/{capture_id}', 'a capture, as a pcap file for Wireshark', False),
       ('GET', '/api/results', 'the results folder: each experiment run\'s report, plots, data and captures', False),
       ('GET', '/api/results/{folder}/{file}', 'one file of the results folder', False))
# what the results folder may serve, by ending, with its content type: reports, plots, data, captures
RESULT_TYPES = {'.md': 'text/markdown; charset=utf-8', '.png': 'image/png', '.svg': 'image/svg+xml',
                '.json': 'application/json', '.csv': 'text/csv; charset=utf-8', '.txt': 'text/plain; charset=utf-8',
                '.pcap': 'application/vnd.tcpdump.pcap'}
LIMITS = {'count': (1, 20), 'seconds': (1, 30), 'iperf seconds': (1, 10)}   # actions are bounded in count and time
CAPTURE_PACKETS = 10_000
TOKEN_HEADER = 'X-Testbed-Token'
DEFAULT_PORT = 8168
# how often the page asks for each part, in seconds (it reads these from /api/topology; testbed bench web polls
# alike): loads once a second; tables less often, since reading one costs a process per switch
POLL_S = {'/api/loads': 1, '/api/control': 2, '/api/captures': 2, '/api/tables': 4, '/api/tunnels': 4,
          '/api/results': 10}


def openapi(version: str) -> Dict:
    """The API as an OpenAPI 3.0 description."""
    paths: Dict[str, Dict] = {}
    for method, path, summary, token in API:
        operation: Dict = {'summary': summary, 'responses': {'200': {'description': 'JSON'},
                                                             '4XX': {'description': '{"error": one line}'}}}
        parameters = [{'name': name.strip('{}'), 'in': 'path', 'required': True, 'schema': {'type': 'string'}}
                      for name in path.split('/') if name.startswith('{')]
        if parameters:
            operation['parameters'] = parameters
        if token:
            operation['security'] = [{'token': []}]
        paths.setdefault(path, {})[method.lower()] = operation
    return {'openapi': '3.0.3', 'info': {'title': 'testbed web view', 'version': version}, 'paths': paths,
            'components': {'securitySchemes': {'token': {'type': 'apiKey', 'in': 'header', 'name': TOKEN_HEADER}}}}


def bounded(body: object, key: str, limit: str, default: int) -> int:
    """A whole number ``key`` of a request body within ``LIMITS[limit]`` (``default`` when absent), or a 400."""
    low, high = LIMITS[limit]
    value = body.get(key, default) if isinstance(body, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise WebRequestError(f'{key} must be a whole number from {low} to {high}, not {value!r}')
    return value


def names(body: object, *keys: str) -> Tuple[str, ...]:
    """The node names a request body gives under ``keys`` (strings), or a 400."""
    if not isinstance(body, dict) or not all(isinstance(body.get(key), str) for key in keys):
        raise WebRequestError(f'the body is a JSON object with {", ".join(repr(k) for k in keys)} (node names)')
    return tuple(body[key] for key in keys)


def result_file(listing: Dict, folder: str, name: str) -> str:
    """The content type of ``folder/name`` if the results listing (``{folder: [file names]}``) has it; a 404
    otherwise (so no path a request makes up, with ``..`` or not, is ever opened)."""
    if name not in listing.get(folder, ()):
        raise WebRequestError(f'no result {folder}/{name}', 404)
    return RESULT_TYPES[name[name.rfind('.'):]]


def route(method: str, path: str) -> Tuple[str, Dict[str, str]]:
    """(the API path that matches, its parameters); 404 for a path the API does not have, 405 for a method."""
    parts = path.split('?')[0].rstrip('/').split('/')
    allowed = []
    for api_method, pattern, _, _ in API:
        segments = pattern.split('/')
        if len(segments) == len(parts) and all(s.startswith('{') or s == p for s, p in zip(segments, parts)):
            if api_method == method:
                return pattern, {s.strip('{}'): p for s, p in zip(segments, parts) if s.startswith('{')}
            allowed.append(api_method)
    if allowed:
        raise WebRequestError(f'{method} is not allowed on {path} (use {", ".join(allowed)})', 405)
    raise WebRequestError(f'no such path: {path}', 404)
