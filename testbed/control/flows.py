"""The control plane's plan and flows: what the Ryu router app needs, computed without switches.

- ``build_plan(net)`` reads a started network into a JSON-able plan: switches (dpid, ports and what is behind each),
  the prefixes attached to switch ports (hosts' subnets with their gateway and MAC), links with delay and bandwidth.
  The controller reads it from a file; ``testbed tables`` reads it to name ports.
- ``graph_from_plan`` / ``attachments_from_plan`` turn it into the inputs of ``testbed.control.routing``.
- ``route_flows`` turns a switch's forwarding table into OpenFlow 1.3 flow specifications (plain tuples; the Ryu app
  translates them into FlowMods), and ``punt_flows`` the few flows that send control traffic (ARP and neighbour
  solicitations for gateway addresses) to the controller.
- ``parse_dumped_routes`` reads ``ovs-ofctl dump-flows`` output back into (prefix, port, packets) rows, so tables are
  shown from what the switches hold, not from the controller's memory.
"""
import functools
import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Tuple

import networkx as nx

from testbed.control.circuits import Circuit
from testbed.control.routing import Attachment, Route, compute_routes, table_diff

COOKIE_ROUTE = 0x5442000000000001   # "TB": forwarding-table entries
COOKIE_PUNT = 0x5442000000000002    # control traffic to the controller
COOKIE_CIRCUIT = 0x5442000100000000  # + circuit id: a reservation's entries
PRIORITY_PUNT = 60000
PRIORITY_CIRCUIT = 30000
PRIORITY_ROUTE_BASE = 1000          # + prefix length: longest prefix first
ETH_IPV4, ETH_IPV6, ETH_ARP = 0x0800, 0x86dd, 0x0806
ICMPV6, ND_SOLICIT = 58, 135


def router_mac(dpid: int) -> str:
    """The MAC a switch uses as a router on every port (locally administered)."""
    return '0a:00:' + ':'.join(f'{(dpid >> shift) & 0xff:02x}' for shift in (24, 16, 8, 0))


def router_ipv4(dpid: int) -> str:
    """The address a switch answers ICMP errors from (traceroute shows one per switch)."""
    return f'10.255.{(dpid >> 8) & 0xff}.{dpid & 0xff}'


def router_ipv6(dpid: int) -> str:
    return f'fd00:ff::{dpid:x}'


@dataclass(frozen=True)
class FlowSpec:
    """One flow entry: OpenFlow 1.3 match fields and actions as plain data."""

    priority: int
    match: tuple      # ((field, value), ...) for OFPMatch(**dict(match))
    actions: tuple    # (('dec_ttl',), ('set_field', 'eth_src', mac), ('output', port), ('controller',))
    cookie: int = COOKIE_ROUTE


# -- the plan ----------------------------------------------------------------------------------------------------

def _gateway(params, key='defaultRoute'):
    route = params.get(key) or ''
    match = re.search(r'via\s+(\S+)', route)
    return match.group(1) if match else None


def build_plan(net: Any, algorithm: str = 'link-state', metric: str = 'hops') -> dict:
    """Read a built network into the controller's plan."""
    plan: Dict[str, Any] = {'algorithm': algorithm, 'metric': metric, 'switches': {}, 'attachments': [],
                            'links': []}
    switch_names = {switch.name for switch in net.switches}
    for switch in net.switches:
        dpid = int(switch.dpid, 16)
        ports = {}
        for intf in switch.intfList():
            if intf.name == 'lo' or not intf.link:
                continue
            other = intf.link.intf2 if intf.link.intf1 is intf else intf.link.intf1
            ports[str(switch.ports[intf])] = {'peer': other.node.name, 'peer_port': other.node.ports.get(other)}
        plan['switches'][switch.name] = {'dpid': dpid, 'mac': router_mac(dpid), 'ipv4': router_ipv4(dpid),
                                         'ipv6': router_ipv6(dpid), 'ports': ports}
    for link in net.links:
        a, b = link.intf1.node, link.intf2.node
        if a.name in switch_names and b.name in switch_names:
            shaping = getattr(link, 'shaping', None)
            plan['links'].append({'a': a.name, 'a_port': a.ports[link.intf1],
                                  'b': b.name, 'b_port': b.ports[link.intf2],
                                  'delay': shaping.delay if shaping else 0.0, 'bw': shaping.bw if shaping else None})
    for host in net.hosts:
        for intf in host.intfList():
            if not intf.link:
                continue
            other = intf.link.intf2 if intf.link.intf1 is intf else intf.link.intf1
            if other.node.name not in switch_names:
                continue
            port = other.node.ports[other]
            params = host.params
            if hasattr(host, 'core_attachments'):  # routers and relays say what is behind them
                for prefix, address, gateway in host.core_attachments(intf):
                    plan['attachments'].append({'prefix': prefix, 'switch': other.node.name, 'port': port,
                                                'name': host.name, 'mac': intf.MAC(), 'host_ip': address,
                                                'gateway': gateway})
                continue
            if intf.IP():
                network = ipaddress.ip_interface(f'{intf.IP()}/{intf.prefixLen}').network
                plan['attachments'].append({'prefix': str(network), 'switch': other.node.name, 'port': port,
                                            'name': host.name, 'mac': intf.MAC(), 'host_ip': intf.IP(),
                                            'gateway': _gateway(params)})
            if params.get('ip6'):
                network = ipaddress.ip_interface(params['ip6']).network
                plan['attachments'].append({'prefix': str(network), 'switch': other.node.name, 'port': port,
                                            'name': host.name, 'mac': intf.MAC(),
                                            'host_ip': str(ipaddress.ip_interface(params['ip6']).ip),
                                            'gateway': params.get('gateway6')})
    return plan


FLOW_MODS_PER_S = 5000    # what the router app installs at the least (Ryu, userspace OVS, 2 vCPUs: ~20,000/s)


def install_allowance_s(plan: dict) -> float:
    """Time to allow, beyond a small network's, for the initial tables: a route per prefix on every switch."""
    return len(plan['switches']) * len(plan['attachments']) / FLOW_MODS_PER_S


def unroutable(plan: dict) -> Optional[str]:
    """Why the router app cannot route this network, or None: it routes one prefix to one switch port, so two hosts
    with different addresses on different ports must not share a subnet (a flat network, such as ``linear``, needs
    learning switches). The same address in several places is anycast (the 6to4 relays), which it routes to the
    nearest."""
    where: Dict[str, dict] = {}
    for attachment in plan['attachments']:
        first = where.setdefault(attachment['prefix'], attachment)
        if (first['switch'], first['port']) != (attachment['switch'], attachment['port']) \
                and first.get('host_ip') != attachment.get('host_ip'):
            return (f'hosts {first["name"]} ({first["switch"]}) and {attachment["name"]} ({attachment["switch"]}) '
                    f'share the subnet {attachment["prefix"]}, and the router app routes one subnet to one port: '
                    'run this topology without --controller (learning switches), or use a routed one (star, ring, '
                    'mesh, chain, grid, bottleneck)')
    return None


def graph_from_plan(plan: dict, links: Optional[list] = None) -> nx.Graph:
    """The switch graph; ``links`` (discovered ones, same form as the plan's) replaces the plan's when given."""
    graph = nx.Graph()
    graph.add_nodes_from(plan['switches'])
    for link in plan['links'] if links is None else links:
        graph.add_edge(link['a'], link['b'], ports={link['a']: link['a_port'], link['b']: link['b_port']},
                       delay=link.get('delay', 0.0), bw=link.get('bw'))
    return graph


def reconvergence_flow_mods(plan: dict, before: nx.Graph, after: nx.Graph, algorithm: str = 'link-state',
                            metric: str = 'hops') -> Dict[str, int]:
    """FlowMods a controller that pushes only changed entries sends when the switch graph goes from ``before``
    to ``after`` (added or re-pointed routes, plus deletions), per switch: what an event should cost."""
    attachments = attachments_from_plan(plan)
    old = compute_routes(before, attachments, algorithm, metric).tables
    new = compute_routes(after, attachments, algorithm, metric).tables
    counts = {}
    for switch in sorted(new):
        changed, removed = table_diff(old.get(switch, []), new[switch])
        gone = [route for route in old.get(switch, []) if route.prefix in removed]
        count = len(route_flows(switch, changed, plan)) + len(route_flows(switch, gone, plan))
        if count:
            counts[switch] = count
    return counts


def attachments_from_plan(plan: dict, down_ports: Iterable = ()) -> List[Attachment]:
    """The plan's attachments, without those behind a switch port that is down ((switch, port) pairs)."""
    return [Attachment(a['prefix'], a['switch'], a['port'], a['name'], a.get('mac', ''))
            for a in plan['attachments'] if (a['switch'], a['port']) not in down_ports]


# -- flows -------------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=65536)
def _prefix_match(prefix):
    network = ipaddress.ip_network(prefix, strict=False)
    if network.version == 4:
        return (('eth_type', ETH_IPV4), ('ipv4_dst', (str(network.network_address), str(network.netmask))))
    return (('eth_type', ETH_IPV6), ('ipv6_dst', (str(network.network_address), str(network.netmask))))


def route_flows(switch: str, routes: List[Route], plan: dict, meters: Optional[dict] = None) -> List[FlowSpec]:
    """Flow specs for one switch's forwarding table: decrement TTL, rewrite MACs as a router, output.

    ``meters`` maps an output port to the meter that polices best effort leaving by it (while circuits hold
    part of that link)."""
    meters = meters or {}
    me = plan['switches'][switch]
    macs = {(a['prefix'], a['port']): a.get('mac') for a in plan['attachments'] if a['switch'] == switch}
    flows = []
    for route in routes:
        if route.local:
            next_mac = macs.get((route.prefix, route.port)) or 'ff:ff:ff:ff:ff:ff'
        else:
            next_mac = plan['switches'][route.neighbour]['mac']
        prefixlen = ipaddress.ip_network(route.prefix, strict=False).prefixlen
        actions: tuple = (('dec_ttl',), ('set_field', 'eth_src', me['mac']), ('set_field', 'eth_dst', next_mac),
                   ('output', route.port))
        if route.port in meters:
            actions = (('meter', meters[route.port]),) + actions
        flows.append(FlowSpec(PRIORITY_ROUTE_BASE + prefixlen, _prefix_match(route.prefix), actions))
    return flows


def circuit_flows(circuit: Circuit, plan: dict, graph: nx.Graph) -> Dict[str, List[FlowSpec]]:
    """Per-switch flow specs carrying one circuit (source host to destination host, IPv4 and, where both hosts
    have it, IPv6) along its path.

    Returns {switch: [FlowSpec, ...]}. Matched before the forwarding table and never metered: the reservation is
    the circuit's; best effort is what gets policed."""
    matches = []
    for version, eth_type, field in ((4, ETH_IPV4, 'ipv4'), (6, ETH_IPV6, 'ipv6')):
        try:
            src, dst = _attachment(plan, circuit.src, version), _attachment(plan, circuit.dst, version)
        except KeyError:
            continue
        if src.get('host_ip') and dst.get('host_ip'):
            matches.append((dst, (('eth_type', eth_type), (f'{field}_src', src['host_ip']),
                                  (f'{field}_dst', dst['host_ip']))))
    if not matches:
        raise KeyError(f'no addresses for a circuit from {circuit.src!r} to {circuit.dst!r}')
    flows = {}
    for index, switch in enumerate(circuit.path):
        specs = []
        for dst, match in matches:
            if index + 1 < len(circuit.path):
                following = circuit.path[index + 1]
                port, next_mac = graph[switch][following]['ports'][switch], plan['switches'][following]['mac']
            else:
                port, next_mac = dst['port'], dst['mac']
            specs.append(FlowSpec(PRIORITY_CIRCUIT, match, (
                ('dec_ttl',), ('set_field', 'eth_src', plan['switches'][switch]['mac']),
                ('set_field', 'eth_dst', next_mac), ('output', port)), COOKIE_CIRCUIT + circuit.id))
        flows[switch] = specs
    return flows


def _attachment(plan, name, version):
    for attachment in plan['attachments']:
        if attachment['name'] == name and ipaddress.ip_network(attachment['prefix']).version == version:
            return attachment
    raise KeyError(f'no IPv{version} attachment named {name!r}')


def attachment_switch(plan: dict, name: str) -> Optional[str]:
    """The switch an attachment (host) hangs off, or None."""
    for attachment in plan['attachments']:
        if attachment['name'] == name:
            return attachment['switch']
    return None


def punt_flows(switch: str, plan: dict) -> List[FlowSpec]:
    """Send ARP requests and neighbour solicitations for this switch's gateway addresses to the controller."""
    flows = []
    for attachment in plan['attachments']:
        gateway = attachment.get('gateway')
        if attachment['switch'] != switch or not gateway:
            continue
        if ipaddress.ip_address(gateway).version == 4:
            match: tuple = (('eth_type', ETH_ARP), ('arp_op', 1), ('arp_tpa', gateway), ('in_port', attachment['port']))
        else:
            match = (('eth_type', ETH_IPV6), ('ip_proto', ICMPV6), ('icmpv6_type', ND_SOLICIT),
                     ('ipv6_nd_target', gateway), ('in_port', attachment['port']))
        flows.append(FlowSpec(PRIORITY_PUNT, match, (('controller',),), COOKIE_PUNT))
    return flows


def gateway_owner(plan: dict, switch: str, address: str) -> Optional[dict]:
    """The attachment whose gateway ``address`` is on ``switch``, or None."""
    for attachment in plan['attachments']:
        if attachment['switch'] == switch and attachment.get('gateway') == address:
            return attachment
    return None


# -- reading back --------------------------------------------------------------------------------------------------

_DUMP_RE = re.compile(r'cookie=(0x[0-9a-f]+).*?n_packets=(\d+).*?priority=(\d+),(ip|ipv6),(nw_dst|ipv6_dst)=(\S+?)[ ,]'
                      r'.*?actions=(\S+)')


def parse_dumped_routes(text: str) -> List[Tuple[str, Optional[int], int]]:
    """(prefix, output port, packets) for each route flow in ``ovs-ofctl -O OpenFlow13 dump-flows`` output."""
    rows = []
    for line in text.splitlines():
        match = _DUMP_RE.search(line)
        if not match or int(match.group(1), 16) != COOKIE_ROUTE:
            continue
        prefix = match.group(6)
        if '/' not in prefix:
            prefix += '/32' if match.group(4) == 'ip' else '/128'
        port = re.search(r'output:(\d+)', match.group(7))
        rows.append((str(ipaddress.ip_network(prefix, strict=False)), int(port.group(1)) if port else None,
                     int(match.group(2))))
    return sorted(rows, key=lambda row: (ipaddress.ip_network(row[0]).version,
                                         -ipaddress.ip_network(row[0]).prefixlen, row[0]))
