"""Translation between the protocols with real components from Debian: Tayga (NAT64 and a 464XLAT CLAT over
TUN, RFC 6146/6052/6877) and unbound (DNS64, RFC 6147), started and stopped by PID inside their nodes.

- ``Nat64Router``: interface 0 on an IPv6-only network (``v6``), interface 1 on the IPv4 Internet (``v4``).
  Tayga translates ``prefix`` (64:ff9b::/96 by default) to IPv4, giving each IPv6 client an address of its
  dynamic pool; an iptables rule masquerades the pool behind ``v4``: that NAPT44 keeps the per-flow state a
  stateful NAT64 keeps (conntrack entries, counted by ``sessions``). With ``dns64`` it runs unbound as the
  network's DNS64 resolver, which resolves ``zone`` at the IPv4-only authoritative server ``authoritative``.
- ``ClatHost``: an IPv6-only host whose IPv4-only applications still work (464XLAT): a stateless Tayga (the CLAT)
  maps the host's private IPv4 address 192.0.0.1 (RFC 7335) to an IPv6 address of its own and IPv4
  destinations into the PLAT's prefix; the NAT64 router is the PLAT. Proxy NDP answers for the CLAT address. Its
  IPv4 route's MTU is the IPv6 link's less 20 bytes, so translated packets are never too big for the link.
- ``AuthoritativeDns``: dnsmasq answering A records for the IPv4-only servers (the names DNS64 synthesises from).
"""
import ipaddress
import os

from testbed.errors import TestbedError
from testbed.network.nodes import DNS_DOMAIN, RoutedHost, configure
from testbed.sixtofour.nodes import dnsmasq_config
from testbed.system import daemon
from testbed.transition.nat64 import (WELL_KNOWN_PREFIX, clat_ipv4_mtu, nat64_prefix, pool_sessions, tayga_config,
                                      unbound_dns64_config)
from testbed.transition.nodes import Router

NAT64_DEVICE, CLAT_DEVICE = 'nat64', 'clat'
POOL = '192.168.255.0/24'             # Tayga's dynamic pool (masqueraded: never seen outside the router)
CLAT_V4, CLAT_TAYGA_V4 = '192.0.0.1', '192.0.0.2'    # RFC 7335: the IPv4 service continuity prefix


def _tayga(node, net, device, text):
    folder = net.run.path(f'tayga-{node.name}')
    os.makedirs(folder, exist_ok=True)
    conf = os.path.join(folder, 'tayga.conf')
    with open(conf, 'w') as handle:
        handle.write(text)
    process = daemon.start_program(node, net.run, ['tayga', '--nodetach', '--config', conf], f'tayga {node.name}',
                     lambda: device in node.cmd(f'ip -br link show {device} 2>/dev/null'))
    configure(node, f'ip link set {device} up')
    return process


class Nat64Router(Router):
    """A stateful NAT64 (Tayga plus NAPT44) and, with ``dns64``, the network's DNS64 resolver (unbound)."""

    def config(self, v6=None, v4=None, prefix=str(WELL_KNOWN_PREFIX), dns64=False, authoritative=None,
               zone=DNS_DOMAIN, **params):
        if not (v6 and v4):
            raise TestbedError(f'{self.name}: a NAT64 router needs its IPv6 side (v6=) and its IPv4 side (v4=)')
        self.prefix = nat64_prefix(prefix)
        self.v6, self.v4 = ipaddress.IPv6Interface(v6), ipaddress.IPv4Interface(v4)
        self.dns64, self.authoritative, self.zone = dns64, authoritative, zone
        if dns64 and not authoritative:
            raise TestbedError(f'{self.name}: DNS64 needs the authoritative server it resolves at (authoritative=)')
        self.processes = []
        return super().config(addresses=((str(self.v6),), (str(self.v4),)), **params)

    def start_services(self, net):
        tayga_v6 = ipaddress.IPv6Network(self.v6, strict=False).network_address + 0x64
        self.processes.append(_tayga(self, net, NAT64_DEVICE, tayga_config(
            NAT64_DEVICE, str(ipaddress.IPv4Network(POOL).network_address + 1), str(self.prefix),
            net.run.path(f'tayga-{self.name}'), ipv6_addr=str(tayga_v6), dynamic_pool=POOL)))
        wan = self.intfList()[1]
        for command in (f'ip route add {POOL} dev {NAT64_DEVICE}', f'ip -6 route add {self.prefix} dev {NAT64_DEVICE}',
                        f'ip -6 route add {tayga_v6}/128 dev {NAT64_DEVICE}',
                        f'iptables -t nat -A POSTROUTING -s {POOL} -o {wan} -j MASQUERADE '
                        f'-m comment --comment testbed:napt44'):
            configure(self, command)
        if self.dns64:
            self.start_dns64(net)

    def start_dns64(self, net):
        folder = net.run.path(f'unbound-{self.name}')
        os.makedirs(folder, exist_ok=True)
        conf = os.path.join(folder, 'unbound.conf')
        with open(conf, 'w') as handle:
            handle.write(unbound_dns64_config(str(self.v6.ip), str(self.prefix), self.zone, self.authoritative, folder))
        listening = lambda: ':53 ' in self.cmd('ss -Hlun sport = :53')  # noqa: E731
        self.processes.append(daemon.start_program(self, net.run, ['unbound', '-d', '-c', conf], f'DNS64 {self.name}',
                                                   listening))

    def stop_services(self):
        for process in self.processes:
            daemon.stop(process)
        self.processes = []

    def sessions(self) -> int:
        """Flows the NAT64 keeps state for: the NAPT44's conntrack entries from the pool."""
        return pool_sessions(self.cmd('cat /proc/net/nf_conntrack 2>/dev/null'), POOL)

    def tunnel_record(self):
        """What ``testbed tunnels`` reads from another process: the sessions, from inside this namespace."""
        return {'pid': self.pid, 'role': 'nat64', 'mode': 'nat64', 'path': 'tayga', 'stats': None,
                'v4': str(self.v4.ip), 'pool': POOL}


class ClatHost(RoutedHost):
    """An IPv6-only host with a CLAT (464XLAT): IPv4 applications reach IPv4 servers through the PLAT's prefix."""

    def config(self, clat_v6=None, plat_prefix=str(WELL_KNOWN_PREFIX), **params):
        result = super().config(**params)
        if not clat_v6:
            raise TestbedError(f'{self.name}: a CLAT needs an IPv6 address of its own (clat_v6=), in the host\'s /64')
        self.clat_v6, self.plat_prefix = ipaddress.IPv6Address(clat_v6), nat64_prefix(plat_prefix)
        self.clat_process = None
        return result

    def start_services(self, net):
        super().start_services(net)
        intf = self.defaultIntf()
        tayga_v6 = self.clat_v6 + 1
        self.clat_process = _tayga(self, net, CLAT_DEVICE, tayga_config(
            CLAT_DEVICE, CLAT_TAYGA_V4, str(self.plat_prefix), net.run.path(f'tayga-{self.name}'),
            ipv6_addr=str(tayga_v6), maps=((CLAT_V4, str(self.clat_v6)),)))
        link_mtu = int(self.cmd(f'ip -o link show dev {intf}').split(' mtu ')[1].split()[0])
        ipv4_mtu = clat_ipv4_mtu(link_mtu)   # TCP's MSS follows the route's MTU
        for command in (f'ip addr add {CLAT_V4}/29 dev {CLAT_DEVICE}',
                        f'ip route add default dev {CLAT_DEVICE} mtu {ipv4_mtu}',
                        f'ip -6 route add {self.clat_v6}/128 dev {CLAT_DEVICE}',
                        f'ip -6 route add {tayga_v6}/128 dev {CLAT_DEVICE}',
                        'sysctl -qw net.ipv6.conf.all.forwarding=1 net.ipv6.conf.all.proxy_ndp=1',
                        f'ip -6 neigh add proxy {self.clat_v6} dev {intf}'):
            configure(self, command)

    def stop_services(self):
        daemon.stop(self.clat_process)
        self.clat_process = None


class AuthoritativeDns(RoutedHost):
    """dnsmasq on this host's IPv4 address, authoritative for ``records`` ({name: [addresses]}) in DNS_DOMAIN."""

    def start_services(self, net):
        super().start_services(net)
        conf = net.run.path(f'dnsmasq-{self.name}.conf')
        with open(conf, 'w') as handle:
            handle.write(dnsmasq_config(self.IP(), self.params.get('records', {})))
        listening = lambda: ':53 ' in self.cmd('ss -Hlun sport = :53')  # noqa: E731
        self.dns_process = daemon.start_program(self, net.run, ['dnsmasq', '--keep-in-foreground',
                                                                f'--conf-file={conf}'], f'DNS server {self.name}',
                                                listening)

    def stop_services(self):
        daemon.stop(getattr(self, 'dns_process', None))
