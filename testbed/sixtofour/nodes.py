"""Node types of the paper's networks: 6to4 routers and relays, a pure IPv6 router and a DNS server.

Usable from any topology (``topo.addHost(name, cls=SixToFourRouter, v4=...)``). Each node configures its
addresses and static routes in ``config`` (called by Mininet once its interfaces exist) and starts what runs
inside it in ``start_services(net)``, called by ``TestbedNet.start`` after the switches and controller are up:

- ``SixToFourRouter`` (RFC 3056): interface 0 faces the IPv4 core with the router's global IPv4 address, interface
  1 (and further ones) its site's LANs, numbered from the derived prefix 2002:V4::/48 (subnets ``lan_subnets``,
  router ::1 in each). Its 6to4
  interface ``tun6to4`` (address 2002:V4::1/16, MTU 1480) carries 2002::/16 and, by the default route, native IPv6
  toward the relay ``::192.88.99.1``; an unreachable route covers the rest of its own /48.
- ``SixToFourRelay`` (RFC 3068): interface 0 on the IPv4 core with a unicast address and the anycast 192.88.99.1,
  interface 1 on the native IPv6 core. It announces 192.88.99.0/24 to the IPv4 core and 2002::/16 to the IPv6
  core (as attachments in the controller's address plan).
- ``IPv6Router``: a plain IPv6 router with static routes (the paper's R2 of Fig. 2).
- ``DnsServer``: dnsmasq with an AAAA record for every host that has an IPv6 address; hosts given ``dns=`` use it.

The 6to4 interface is the kernel's sit device where the probe found one (``TESTBED_PATH=tunnel=...``), else the
userspace encapsulator ``testbed.transition.encapsulator`` (mode 6to4) on a TUN device of the same name: same
addresses, routes, MTU and on-wire headers. RFC 3964 filtering: the encapsulator checks every packet; on sit, the
kernel checks the 6to4 source against the outer IPv4 source and ip6tables/iptables rules (``rfc3964_rules``) drop
the rest, each rule tagged with the reason it counts.
"""
import ipaddress
import json
import os
import shlex

from mininet.node import Node

from testbed.system import daemon
from testbed.errors import TestbedError
from testbed.network.nodes import DNS_DOMAIN, RoutedHost, configure
from testbed.sixtofour.addressing import (PREFIX_6TO4, RELAY_ANYCAST, RELAY_ANYCAST_PREFIX, TUNNEL_DEVICE, TUNNEL_MTU,
                               TUNNEL_TTL, address_in, martian_6to4_prefixes, router_6to4_address, site_prefix,
                               subnet)


def _iface(interface):
    return ipaddress.ip_interface(interface)


class CoreAttached:
    """A node that tells the controller's address plan which prefixes sit behind each core-facing interface.

    ``core_attachments(intf)`` returns [(prefix, own address or None, gateway the switch answers or None)]."""

    announce = {}   # interface index -> prefixes announced there (set per instance from params)

    def core_attachments(self, intf):
        return []


class SixToFourRouter(CoreAttached, Node):
    """A 6to4 site's exit router (RFC 3056)."""

    role = 'router'

    def config(self, v4=None, v4_gateway=None, lan_subnets=(1,), relay=str(RELAY_ANYCAST), **params):
        result = super().config(**params)
        if not v4:
            raise TestbedError(f'{self.name}: a 6to4 router needs its global IPv4 address (v4=A.B.C.D/N)')
        self.v4 = _iface(v4)
        self.prefix = site_prefix(self.v4.ip)            # raises for private/loopback/multicast/... addresses
        self.lans = [subnet(self.v4.ip, number) for number in lan_subnets]
        self.lan = self.lans[0]
        self.lan_address = address_in(self.lan, 1)
        self.relay = ipaddress.ip_address(relay)
        self.v4_gateway = v4_gateway
        self.tunnel_address = router_6to4_address(self.v4.ip)
        self.tunnel_process = None
        self.wan, self.lan_intf = self.intfList()[:2]
        configure(self, 'sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv4.ip_forward=0')
        configure(self, f'ip addr flush dev {self.wan}')
        configure(self, f'ip addr add {self.v4} dev {self.wan}')
        if v4_gateway == 'onlink':  # a WAN link straight to the other router (no IPv4 core in between)
            configure(self, f'ip route add default dev {self.wan}')
        elif v4_gateway:
            configure(self, f'ip route add default via {v4_gateway} dev {self.wan}')
        for intf, lan in zip(self.intfList()[1:], self.lans):  # interface k+1 carries subnet lan_subnets[k]
            configure(self, f'ip -6 addr add {address_in(lan, 1)}/64 dev {intf} nodad')
        configure(self, f'ip -6 route add unreachable {self.prefix}')
        return result

    def core_attachments(self, intf):
        if intf is not self.wan:
            return []
        return [(str(self.v4.network), str(self.v4.ip), self.v4_gateway)]

    # -- the 6to4 interface --------------------------------------------------------------------------------------
    def tunnel_local(self):
        return self.v4.ip

    def encapsulator_config(self, stats):
        return {'mode': '6to4', 'name': self.name, 'role': self.role, 'local': str(self.tunnel_local()),
                'relay': str(self.relay), 'relays': [str(self.relay)], 'sites': [str(self.v4.ip)], 'mtu': TUNNEL_MTU,
                'stats': stats}

    services_across_servers = True   # its paths and files from net (plan_for, file_for): placeable on a server

    def start_services(self, net):
        self.tunnel_path = net.plan_for(self).tunnel
        if self.tunnel_path == 'kernel':
            configure(self, f'ip tunnel add {TUNNEL_DEVICE} mode sit remote any local {self.tunnel_local()} '
                      f'ttl {TUNNEL_TTL}')
            configure(self, f'ip link set {TUNNEL_DEVICE} mtu {TUNNEL_MTU} up')
            for cmd in rfc3964_rules(self):
                configure(self, cmd)
        else:
            self.stats_path = net.file_for(self, f'encap6to4-{self.name}.json')
            self.tunnel_process = daemon.start(self, 'testbed.transition.encapsulator',
                                               self.encapsulator_config(self.stats_path), net.run,
                                               f'6to4 encapsulator {self.name}')
        configure(self, f'ip -6 addr add {self.tunnel_address}/16 dev {TUNNEL_DEVICE} nodad')  # 2002::/16 on-link
        self.tunnel_routes()

    def tunnel_routes(self):
        configure(self, f'ip -6 route add default via ::{self.relay} dev {TUNNEL_DEVICE} onlink')

    def stop_services(self):
        daemon.stop(getattr(self, 'tunnel_process', None))
        self.tunnel_process = None

    def counters(self):
        """RFC 3964 and tunnel counters in one form on both paths (see ``tunnel_counters``)."""
        return tunnel_counters(getattr(self, 'tunnel_path', None), getattr(self, 'stats_path', None), self.cmd)

    def tunnel_record(self):
        """What ``testbed sixtofour`` needs to read this node's counters from another process."""
        return {'pid': self.pid, 'role': self.role, 'path': getattr(self, 'tunnel_path', None),
                'stats': getattr(self, 'stats_path', None), 'v4': str(self.tunnel_local()),
                'prefix': str(self.prefix)}


class SixToFourRelay(SixToFourRouter):
    """A 6to4 relay router (RFC 3068): anycast 192.88.99.1 on the IPv4 core, native IPv6 on the other side."""

    role = 'relay'

    def config(self, v4=None, v4_gateway=None, anycast=str(RELAY_ANYCAST), ip6=None, gateway6=None, **params):
        result = Node.config(self, **params)
        if not (v4 and ip6):
            raise TestbedError(f'{self.name}: a relay needs a unicast IPv4 address (v4=) and a native IPv6 one (ip6=)')
        self.v4 = _iface(v4)
        self.anycast = ipaddress.ip_address(anycast)
        self.relay = self.anycast
        self.prefix = site_prefix(self.anycast)
        self.tunnel_address = router_6to4_address(self.anycast)
        self.ip6 = _iface(ip6)
        self.v4_gateway, self.gateway6 = v4_gateway, gateway6
        self.tunnel_process = None
        self.wan, self.native = self.intfList()[:2]
        configure(self, 'sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv4.ip_forward=0')
        configure(self, f'ip addr flush dev {self.wan}')
        configure(self, f'ip addr add {self.v4} dev {self.wan}')
        configure(self, f'ip addr add {self.anycast}/32 dev {self.wan}')
        if v4_gateway:
            configure(self, f'ip route add default via {v4_gateway} dev {self.wan}')
        configure(self, f'ip -6 addr add {self.ip6} dev {self.native} nodad')
        if gateway6:
            configure(self, f'ip -6 route add default via {gateway6} dev {self.native}')
        return result

    def core_attachments(self, intf):
        if intf is self.wan:
            return [(str(self.v4.network), str(self.v4.ip), self.v4_gateway),
                    (str(RELAY_ANYCAST_PREFIX), str(self.anycast), None)]
        if intf is self.native:
            return [(str(self.ip6.network), str(self.ip6.ip), self.gateway6), (str(PREFIX_6TO4), None, None)]
        return []

    def tunnel_local(self):
        return self.anycast

    def encapsulator_config(self, stats):
        config = super().encapsulator_config(stats)
        config.update(sites=[str(self.anycast)], relays=[])  # its own 6to4 site: packets for the relay itself
        return config

    def tunnel_routes(self):
        """Nothing beyond the on-link 2002::/16: the relay's default route is native."""


class IPv6Router(CoreAttached, Node):
    """A pure IPv6 router with static routes: ``addresses`` (one per interface, in order), ``routes6``
    (``ip -6 route add`` arguments), ``core`` (index of the interface on the controller's IPv6 core, with
    ``gateway6`` the switch answers there and ``announce`` the prefixes routed to this router)."""

    def config(self, addresses=(), routes6=(), core=0, gateway6=None, announce=(), **params):
        result = super().config(**params)
        self.addresses = [_iface(a) for a in addresses]
        self.core_index, self.gateway6, self.announced = core, gateway6, list(announce)
        configure(self, 'sysctl -qw net.ipv6.conf.all.forwarding=1')
        for intf, address in zip(self.intfList(), self.addresses):
            configure(self, f'ip -6 addr add {address} dev {intf} nodad')
        for route in routes6:
            configure(self, f'ip -6 route add {route}')
        return result

    def core_attachments(self, intf):
        if intf is not self.intfList()[self.core_index]:
            return []
        own = self.addresses[self.core_index]
        return [(str(own.network), str(own.ip), self.gateway6)] + [(p, None, None) for p in self.announced]


class DnsServer(RoutedHost):
    """dnsmasq answering AAAA (and A) queries for every host of the network under ``DNS_DOMAIN``."""

    services_across_servers = True   # its configuration through net.file_for, dnsmasq started in the node

    def start_services(self, net):
        super().start_services(net)
        address = str(ipaddress.ip_interface(self.params['ip6']).ip)
        records = dns_records(net)
        conf = net.file_for(self, f'dnsmasq-{self.name}.conf', dnsmasq_config(address, records))
        listening = lambda: ':53 ' in self.cmd('ss -Hlun sport = :53')  # noqa: E731
        self.dns_process = daemon.start_program(self, net.run, ['dnsmasq', '--keep-in-foreground',
                                                                f'--conf-file={conf}'], f'DNS server {self.name}',
                                                listening)
        self.records = records

    def stop_services(self):
        daemon.stop(getattr(self, 'dns_process', None))


def dns_records(net):
    """name -> [addresses] for every host with an address (IPv6 first), routers and relays included."""
    records = {}
    for host in net.hosts:
        addresses = []
        if host.params.get('ip6'):
            addresses.append(str(ipaddress.ip_interface(host.params['ip6']).ip))
        for attr in ('lan_address', 'tunnel_address'):
            if getattr(host, attr, None) is not None:
                addresses.append(str(getattr(host, attr)))
        if addresses:
            records[host.name] = addresses
    return records


def dnsmasq_config(listen, records):
    lines = ['no-resolv', 'no-hosts', 'bind-interfaces', f'listen-address={listen}', 'port=53', 'user=root',
             'log-facility=-', f'domain={DNS_DOMAIN}', f'local=/{DNS_DOMAIN}/']
    for name, addresses in sorted(records.items()):
        lines.extend(f'host-record={name}.{DNS_DOMAIN},{address}' for address in addresses)
    return '\n'.join(lines) + '\n'


def rfc3964_rules(node):
    """ip6tables/iptables commands filtering what the sit device decapsulates, each rule tagged with its reason."""
    dev = TUNNEL_DEVICE
    tag = lambda reason: f'-m comment --comment tb6to4:{reason} -j DROP'  # noqa: E731
    rules = []
    for prefix in martian_6to4_prefixes():
        rules.append(f'ip6tables -A FORWARD -i {dev} -s {prefix} {tag("martian")}')
        rules.append(f'ip6tables -A FORWARD -i {dev} -d {prefix} {tag("martian")}')
    if node.role == 'relay':
        rules.append(f'ip6tables -A FORWARD -i {dev} ! -s {PREFIX_6TO4} {tag("spoofed")}')
        rules.append(f'ip6tables -A FORWARD -i {dev} -d {PREFIX_6TO4} {tag("wrong_destination")}')
    else:
        rules.append(f'ip6tables -A FORWARD -i {dev} ! -d {node.prefix} {tag("wrong_destination")}')
        # a native (non-2002) inner source must come from the relay: the inner source's first 16 bits,
        # found after the outer header (IHL words) + 8 bytes, are read with the u32 match
        rules.append(f'iptables -A INPUT -p 41 ! -s {node.relay} -m u32 ! --u32 "0>>22&0x3C@8>>16=0x2002" '
                     f'{tag("not_from_relay")}')
    return rules


def tunnel_counters(path, stats_path, run_cmd, device=TUNNEL_DEVICE):
    """{'path', 'decap': {...}, 'encap': {...}}: from the encapsulator's file (userspace; read with ``run_cmd``
    where it is not on this machine: a node on a cluster server) or from the kernel's counters (sit device
    statistics and the tagged filter rules, read with ``run_cmd`` inside the node)."""
    if path != 'kernel':
        try:
            if stats_path and not os.path.exists(stats_path):
                return {'path': 'userspace', **json.loads(run_cmd(f'cat {shlex.quote(stats_path)}'))}
            with open(stats_path) as handle:
                return {'path': 'userspace', **json.load(handle)}
        except (TypeError, OSError, ValueError):
            return {'path': path or 'userspace'}
    link = json.loads(run_cmd(f'ip -s -j link show {device}') or '[{}]')[0].get('stats64', {})
    rx, tx = link.get('rx', {}), link.get('tx', {})
    decap = {'received': rx.get('packets', 0) + rx.get('errors', 0), 'delivered': rx.get('packets', 0),
             'drop_spoofed': rx.get('errors', 0)}  # sit counts what fails its 6to4 source check as rx errors
    encap = {'sent': tx.get('packets', 0), 'send_errors': tx.get('errors', 0)}
    for table, chain in (('ip6tables', 'FORWARD'), ('iptables', 'INPUT')):
        for line in run_cmd(f'{table} -L {chain} -v -x -n 2>/dev/null').splitlines():
            if 'tb6to4:' in line:
                reason = line.split('tb6to4:')[1].split()[0]
                packets = int(line.split()[0])
                decap[f'drop_{reason}'] = decap.get(f'drop_{reason}', 0) + packets
                if table == 'ip6tables':      # counted by sit as received, then dropped by the filter
                    decap['delivered'] -= packets
                else:                         # dropped before sit saw it
                    decap['received'] += packets
    return {'path': 'kernel', 'decap': decap, 'encap': encap}
