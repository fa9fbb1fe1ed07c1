"""The paper's 6to4 networks (RFC 3056 sites, an RFC 3068 relay, a native IPv6 network), routed by the controller.

The IPv4 core (s1..s3) and the native IPv6 core (x1, x2) are OpenFlow switches that the router app turns into
routers: run these with ``--controller`` (``testbed run sixtofour --controller``); ``make demo`` does. Addresses
are documentation prefixes (RFC 5737, RFC 3849) and live only inside the testbed's namespaces.

``sixtofour-sites`` — scenario 1, the paper's Fig. 1: two isolated IPv6 sites over the IPv4 Internet; the name
server is a 6to4 host on site 2's second LAN::

    a ---- r1 ==== s1 ---- s2 ---- s3 ==== r2 ---- b
    2002:c000:201:1::10    192.0.2.1     198.51.100.1    2002:c633:6401:1::10
           (6to4 router, site 2002:c000:201::/48)   (6to4 router, site 2002:c633:6401::/48)
                                                   r2 ---- dns 2002:c633:6401:53::53

``sixtofour-relay`` — scenario 2, the paper's Fig. 2: a 6to4 site and host C in the native IPv6 network, joined
by the relay R3 (anycast 192.88.99.1 = 2002:c058:6301::1) and the pure IPv6 router R2 (``v6r``)::

    a ---- r1 ==== s1 ---- s2 ==== relay ==== x1 ---- x2 ==== v6r ---- c 2001:db8:c::10
                                203.0.113.1        |   2001:db8:ffff::1
                                                  dns 2001:db8:53::53

``sixtofour`` — both scenarios in one network (what ``make demo`` runs); ``relays=2`` adds a second relay with
the same anycast address on s3 for failover::

              site 1                       IPv4 core                        site 2
    a ---- r1 ==== s1 -------- s2 -------- s3 ==== r2 ---- b
                                |            |
                              relay       (relay2, relays=2)
                                |            |
    dns ---------------------- x1 -------- x2 ==== v6r ---- c
                                     native IPv6 core

Parameters: ``bw``/``delay``/``loss``… shape the core links (switch-switch); ``r1``/``r2`` change the routers'
IPv4 addresses (the 6to4 prefixes follow; a private, loopback or multicast address is refused); ``relay_delay``
(``sixtofour`` only) puts the relay that far from the IPv4 core (one-way), to show the detour native traffic takes.
"""
import ipaddress

from testbed.errors import TestbedError
from testbed.network.nodes import RoutedHost
from testbed.sixtofour.addressing import RELAY_ANYCAST_PREFIX, SixToFourError, site_prefix, subnet
from testbed.sixtofour.nodes import DnsServer, IPv6Router, SixToFourRelay, SixToFourRouter
from testbed.network.topo import TestbedTopo, check_count, shaping_options

DNS_ADDRESS = '2001:db8:53::53'
NATIVE_C = '2001:db8:c::/64'
RELAYS_V4 = ipaddress.IPv4Network('203.0.113.0/24')  # add_relay's unicast /26s


def _v4_interface(address, what):
    """'192.0.2.1' -> ('192.0.2.1/24', gateway '192.0.2.254'), refusing addresses that cannot do 6to4."""
    try:
        interface = ipaddress.IPv4Interface(f'{address}/24' if '/' not in str(address) else address)
        site_prefix(interface.ip)
    except (ValueError, SixToFourError) as exc:
        raise TestbedError(f'{what}: {exc}') from None
    network = interface.network
    gateway = network.network_address + (254 if interface.ip != network.network_address + 254 else 253)
    return str(interface), str(gateway)


def add_site(topo, router, host, v4, switch, dns=DNS_ADDRESS, dns_server=False):
    """A 6to4 site: router (WAN on ``switch``) and one IPv6-only host on its LAN, subnet 1 of the site prefix;
    with ``dns_server`` a second LAN (subnet 0x53) holds the DNS server at ::53."""
    v4_interface, gateway = _v4_interface(v4, f'6to4 router {router}')
    v4_address = ipaddress.IPv4Interface(v4_interface).ip
    lan = subnet(v4_address, 1)
    topo.addHost(router, cls=SixToFourRouter, v4=v4_interface, v4_gateway=gateway, ip=None,
                 lan_subnets=(1, 0x53) if dns_server else (1,))
    topo.addHost(host, cls=RoutedHost, ip=None, ip6=f'{lan.network_address + 0x10}/64',
                 gateway6=str(lan.network_address + 1), dns=dns)
    topo.addLink(router, switch)   # router interface 0: WAN
    topo.addLink(router, host)     # router interface 1: LAN
    if dns_server:
        dns_lan = subnet(v4_address, 0x53)
        topo.addHost('dns', cls=DnsServer, ip=None, ip6=f'{dns_lan.network_address + 0x53}/64',
                     gateway6=str(dns_lan.network_address + 1), dns=str(dns_lan.network_address + 0x53))
        topo.addLink(router, 'dns')  # router interface 2: the DNS server's LAN


def site_dns(v4):
    """The DNS server's address when it sits in the site of router address ``v4`` (scenario 1)."""
    return str(subnet(ipaddress.IPv4Interface(_v4_interface(v4, 'DNS site')[0]).ip, 0x53).network_address + 0x53)


def add_relay(topo, name, v4_switch, v6_switch, index=1, v4_link=None):
    """A relay with the anycast 192.88.99.1, unicast 203.0.113.<64*(index-1)+1>/26 and native 2001:db8:ff<index>::1;
    ``v4_link``: shaping of its link to the IPv4 core (a far relay: ``{'delay': '10ms'}``)."""
    base = 64 * (index - 1)
    topo.addHost(name, cls=SixToFourRelay, ip=None, v4=f'203.0.113.{base + 1}/26', v4_gateway=f'203.0.113.{base + 62}',
                 ip6=f'2001:db8:ff{index:02x}::1/64', gateway6=f'2001:db8:ff{index:02x}::fe')
    topo.addLink(name, v4_switch, **(v4_link or {}))    # relay interface 0: IPv4 core
    topo.addLink(name, v6_switch)    # relay interface 1: native IPv6 core


def add_native(topo, core_switch):
    """The native IPv6 network's far side: pure IPv6 router v6r with host C behind it, and the DNS server."""
    topo.addHost('v6r', cls=IPv6Router, ip=None, addresses=('2001:db8:fffe::1/64', '2001:db8:c::1/64'),
                 routes6=('default via 2001:db8:fffe::fe',), core=0, gateway6='2001:db8:fffe::fe',
                 announce=(NATIVE_C,))
    topo.addHost('c', cls=RoutedHost, ip=None, ip6='2001:db8:c::10/64', gateway6='2001:db8:c::1', dns=DNS_ADDRESS)
    topo.addLink('v6r', core_switch)
    topo.addLink('v6r', 'c')


def add_dns(topo, switch):
    topo.addHost('dns', cls=DnsServer, ip=None, ip6=f'{DNS_ADDRESS}/64', gateway6='2001:db8:53::1', dns=DNS_ADDRESS)
    topo.addLink('dns', switch)


def check_routers(relay=True, **routers):
    """Refuse 6to4 routers whose IPv4 networks overlap each other's or (with ``relay``) the relays'."""
    networks = {name: ipaddress.IPv4Interface(_v4_interface(v4, f'6to4 router {name}')[0]).network
                for name, v4 in routers.items()}
    if relay:
        networks.update({'the relays': RELAYS_V4, 'the relay anycast': RELAY_ANYCAST_PREFIX})
    names = list(networks)
    for index, first in enumerate(names):
        for second in names[index + 1:]:
            if networks[first].overlaps(networks[second]):
                raise TestbedError(f'6to4 router {first}: its IPv4 network {networks[first]} overlaps that of '
                                   f'{second} ({networks[second]}); each site needs an address of its own')


def add_switches(topo, names):
    """IPv4 core switches sN get datapath id N, native IPv6 core switches xN get 0x100 + N."""
    for name in names:
        topo.addSwitch(name, dpid=f'{(0x100 if name[0] == "x" else 0) + int(name[1:]):016x}')


class SixToFourSitesTopo(TestbedTopo):
    """Scenario 1 (Fig. 1): two 6to4 sites over a routed IPv4 core of three switches."""

    def build(self, r1='192.0.2.1', r2='198.51.100.1', bw=None, delay=None, jitter=None, loss=None,
              max_queue_size=None):
        shaping = shaping_options(locals())
        check_routers(relay=False, r1=r1, r2=r2)
        for name in ('s1', 's2', 's3'):
            self.addSwitch(name)
        self.addLink('s1', 's2', **shaping)
        self.addLink('s2', 's3', **shaping)
        dns = site_dns(r2)  # no relay in scenario 1: the name server is a 6to4 host in site 2
        add_site(self, 'r1', 'a', r1, 's1', dns=dns)
        add_site(self, 'r2', 'b', r2, 's3', dns=dns, dns_server=True)


class SixToFourRelayTopo(TestbedTopo):
    """Scenario 2 (Fig. 2): a 6to4 site, the relay, a native IPv6 core with the pure IPv6 router and host C."""

    def build(self, r1='192.0.2.1', bw=None, delay=None, jitter=None, loss=None, max_queue_size=None):
        shaping = shaping_options(locals())
        check_routers(r1=r1)
        add_switches(self, ('s1', 's2', 'x1', 'x2'))
        self.addLink('s1', 's2', **shaping)
        self.addLink('x1', 'x2', **shaping)
        add_site(self, 'r1', 'a', r1, 's1')
        add_relay(self, 'relay', 's2', 'x1')
        add_native(self, 'x2')
        add_dns(self, 'x1')


class SixToFourTopo(TestbedTopo):
    """Both scenarios: sites 1 and 2, the relay (or two with ``relays=2``), the native network with C and DNS."""

    def build(self, r1='192.0.2.1', r2='198.51.100.1', relays=1, bw=None, delay=None, jitter=None, loss=None,
              max_queue_size=None, relay_delay=None):
        check_count('relays', relays, 1, 2)
        shaping = shaping_options(locals())
        check_routers(r1=r1, r2=r2)
        relay_link = {'delay': relay_delay} if relay_delay else None
        add_switches(self, ('s1', 's2', 's3', 'x1', 'x2'))
        self.addLink('s1', 's2', **shaping)
        self.addLink('s2', 's3', **shaping)
        self.addLink('x1', 'x2', **shaping)
        add_site(self, 'r1', 'a', r1, 's1')
        add_site(self, 'r2', 'b', r2, 's3')
        add_relay(self, 'relay', 's2', 'x1', v4_link=relay_link)
        if relays == 2:
            add_relay(self, 'relay2', 's3', 'x1', index=2)
        add_native(self, 'x2')
        add_dns(self, 'x1')


class SixToFourDirectTopo(TestbedTopo):
    """Two 6to4 sites whose routers share one link, no switches: the tunnel's own ceiling (``bench sixtofour``).

        a ---- r1 ======== r2 ---- b
    """

    def build(self, r1='192.0.2.1', r2='198.51.100.1', bw=None, delay=None, jitter=None, loss=None,
              max_queue_size=None):
        shaping = shaping_options(locals())
        check_routers(relay=False, r1=r1, r2=r2)
        for router, host, v4 in (('r1', 'a', r1), ('r2', 'b', r2)):
            v4_interface, _ = _v4_interface(v4, f'6to4 router {router}')
            lan = subnet(ipaddress.IPv4Interface(v4_interface).ip, 1)
            self.addHost(router, cls=SixToFourRouter, v4=v4_interface, v4_gateway='onlink', ip=None)
            self.addHost(host, cls=RoutedHost, ip=None, ip6=f'{lan.network_address + 0x10}/64',
                         gateway6=str(lan.network_address + 1))
        self.addLink('r1', 'r2', **shaping)   # interface 0 of both routers: the WAN
        self.addLink('r1', 'a')
        self.addLink('r2', 'b')


topos = {'sixtofour': SixToFourTopo, 'sixtofour-direct': SixToFourDirectTopo, 'sixtofour-sites': SixToFourSitesTopo,
         'sixtofour-relay': SixToFourRelayTopo}
