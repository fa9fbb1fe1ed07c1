r"""The paper's survey of IPv6 transition techniques, one network per mechanism (testbed.transition).

Every network runs without a controller: its IPv4 Internet is ``core``, a Linux router that forwards IPv4 only
(``ipv6=False``), so an IPv6 packet crosses it only inside a tunnel; dual stack is the exception, its core
forwards both. Addresses are documentation prefixes (RFC 5737, RFC 3849) or private ones, and live only inside
the testbed's namespaces. ``bw``/``delay``/``loss``… shape the links to the core.

``dual-stack`` — the baseline: every node speaks both protocols, nothing is tunnelled::

    h1 ---------- core ---------- h2
    192.0.2.10                    198.51.100.10
    2001:db8:1::10                2001:db8:2::10

``6in4`` — a manually configured tunnel (RFC 4213): r1 and r2 each know the other's IPv4 address::

    a ---- r1 ========== core (IPv4 only) ========== r2 ---- b
    2001:db8:1::10  192.0.2.1                198.51.100.1  2001:db8:2::10
            tun6in4 2001:db8:ffff::1/64  <->  2001:db8:ffff::2/64

``v4compat`` — automatic tunnels to IPv4-compatible addresses (RFC 2893, historic): hosts h1 and h2 reach each
other with no configuration, but c, a native IPv6 host behind the (here dual-stack) core, cannot be reached:
``::a.b.c.d`` only maps to IPv4, which is why RFC 4213 dropped the mechanism::

    h1 ::192.0.2.10 ====== core ====== h2 ::198.51.100.10
                            |
                            c 2001:db8:c::10 (native IPv6)

``6rd`` — IPv6 rapid deployment (RFC 5969): the ISP's own prefix 2001:db8:6000::/40 and its customers' IPv4
addresses in 10.64.0.0/16 (IPv4MaskLen 16: the common 16 bits are left out), so each CE owns a /56 from the
last 16 bits of its IPv4 address (10.64.1.1 -> 2001:db8:6001:100::/56); the border relay (BR) joins native IPv6::

    a ---- ce1 10.64.1.1 ====\
                             core (ISP, IPv4 only) ==== br 10.64.0.1 ---- c 2001:db8:c::10
    b ---- ce2 10.64.2.1 ====/

``isatap`` — an IPv4-only site network with private addresses as one IPv6 link (RFC 5214): hosts derive
interface identifiers 0:5efe:a.b.c.d from their IPv4 addresses and talk to each other directly. Each solicits
the routers of its potential router list (PRL) by unicast; the router (radvd) answers with the link's prefix,
from which the host forms its global address, and becomes its way to the rest of the IPv6 world. h3's list
names an address where no router is: nobody answers, and h3 stays on link-local addresses::

    h1 10.0.0.2 (PRL 10.0.0.1) ----\
    h2 10.0.0.3 (PRL 10.0.0.1) ----- s1 ---- isr 10.0.0.1 (ISATAP router, radvd) ---- c 2001:db8:c::10
    h3 10.0.0.4 (PRL 10.0.0.9) ----/              prefix 2001:db8:5e::/64

``6over4`` — IPv6 over an IPv4 multicast domain (RFC 2529): h1, h2 and the router r6 share one IPv4 network
(switch s1, which floods multicast), and with it one IPv6 link: neighbour discovery runs over IPv4 multicast
(239.192.X.Y) and a node's link-layer address is its IPv4 address. h3 is behind an IPv4 router without multicast
routing: its neighbour solicitations never arrive, so it reaches nobody. That limit is why 6over4 was never
deployed::

    h1 192.0.2.10 ---\
    h2 192.0.2.11 ---- s1 ---- r6 192.0.2.1 (6over4 router) ---- c 2001:db8:c::10
                        |          prefix 2001:db8:6:4::/64, addresses prefix::V4
                      core (IPv4 router, no multicast routing) ---- h3 198.51.100.10

``nat64`` — an IPv6-only network reaching an IPv4-only server (RFC 6146, 6147, 6052): Tayga translates the
network-specific prefix 2001:db8:64::/96, unbound (DNS64) synthesises v4srv's AAAA from its A record at v4srv's
own name server; x6 runs a CLAT (464XLAT, RFC 6877) so that its IPv4-only applications reach 198.51.100.10 too.
Not the well-known 64:ff9b::/96: RFC 6052 section 3.1 keeps non-global IPv4 addresses such as the documentation
ones used here out of it, and Tayga enforces that::

    h6 2001:db8:1::10 ----\
                           s1 ---- nat64 ---------------- v4srv 198.51.100.10 (IPv4 only, DNS: A records)
    x6 2001:db8:1::20 ----/    2001:db8:1::1 | 198.51.100.1
    (CLAT 192.0.0.1 <-> 2001:db8:1::464)  Tayga + NAPT44, unbound DNS64

``broker`` — a tunnel broker (RFC 3053): c1 and c2 ask tb over HTTP for a tunnel; tb allocates a link /64 and a
site /56 for each, configures its own end (it is also the tunnel server) and answers with the client's
configuration, which the client applies (a 6in4 tunnel, RFC 4213)::

    c1 192.0.2.10 ====\
                       core (IPv4 only) ==== tb 203.0.113.1 (broker + tunnel server) ---- c 2001:db8:c::10
    c2 198.51.100.10 =/

``transition-compare`` — the mechanisms side by side across one shaped core link (the
``transition-techniques`` experiment): each pair crosses ra == rb, so their goodput, MTU and round trips differ
only by what the mechanism adds. The 6to4 relay and the tunnel broker's server each sit behind two links of
``relay_delay`` (IPv4 in, native IPv6 out), so the way from six1 and from bc1 to native IPv6 shows the detour they
cost::

    ds1 (dual stack)    ----\                                  /---- ds2 (dual stack)
    t1  (6in4)          ------ ra ====== core link ====== rb ------ t2  (6in4)
    ce1 (6rd CE)        ------   203.0.113.1/30 .2/30        ------ ce2 (6rd CE)
    six1 (6to4)         ------   (bw, delay: the parameters) ------ six2 (6to4)
    is1 (ISATAP host)   ------                               ------ isr (ISATAP router, radvd)
    vc1 (::192.0.2.114) ------                               ------ vc2 (::198.51.100.114)
    h6  (IPv6 only)     ------                               ------ nat64 ---- v4srv (IPv4 only)
    x6  (CLAT, 464XLAT) ------                               ====== rly (6to4 relay 192.88.99.1)
    bc1 (broker client) ----/                                 \==== tb (tunnel broker and server)
"""
import ipaddress

from testbed.errors import TestbedError
from testbed.network.nodes import RoutedHost
from testbed.network.topo import TestbedTopo, check_count, shaping_options
from testbed.sixtofour.addressing import RELAY_ANYCAST, router_6to4_address
from testbed.sixtofour.nodes import SixToFourRelay
from testbed.transition.nat64 import WELL_KNOWN_PREFIX, nat64_prefix
from testbed.transition.nodes import (BrokerClient, IsatapHost, IsatapRouter, Router, SixOverFourEndpoint, TunnelBroker,
                                      TunnelEndpoint)
from testbed.transition.sixover4 import link_local as sixover4_link_local
from testbed.transition.translators import AuthoritativeDns, ClatHost, Nat64Router
from testbed.transition.tunnels import isatap_address, sixrd_domain, v4compat_address

NATIVE_C = '2001:db8:c::10'
SIXRD = {'prefix': '2001:db8:6000::/40', 'v4_common': 16, 'v4_prefix': '10.64.0.0/16', 'relay': '10.64.0.1'}
ISATAP_PREFIX = '2001:db8:5e::/64'
V4_SERVER = '198.51.100.10'
V4_SERVER_COMPARE = '198.51.100.66'
NAT64_PREFIX = '2001:db8:64::/96'
BROKER_V4 = '203.0.113.1'
SIXOVER4_PREFIX = '2001:db8:6:4::/64'   # network-specific (RFC 6052); see the nat64 diagram for why not 64:ff9b::/96


def _host(topo, name, ip=None, gateway=None, ip6=None, gateway6=None):
    topo.addHost(name, cls=RoutedHost, ip=ip, defaultRoute=f'via {gateway}' if gateway else None,
                 ip6=ip6, gateway6=gateway6)


class DualStackTopo(TestbedTopo):
    """Dual stack (RFC 4213 section 2): both protocols end to end, the baseline of every comparison."""

    def build(self, bw=None, delay=None, jitter=None, loss=None, max_queue_size=None):
        shaping = shaping_options(locals())
        self.addHost('core', cls=Router, ip=None, addresses=(('192.0.2.1/24', '2001:db8:1::1/64'),
                                                             ('198.51.100.1/24', '2001:db8:2::1/64')))
        _host(self, 'h1', '192.0.2.10/24', '192.0.2.1', '2001:db8:1::10/64', '2001:db8:1::1')
        _host(self, 'h2', '198.51.100.10/24', '198.51.100.1', '2001:db8:2::10/64', '2001:db8:2::1')
        self.addLink('core', 'h1', **shaping)
        self.addLink('core', 'h2', **shaping)


class SixInFourTopo(TestbedTopo):
    """A manually configured tunnel (RFC 4213 "6in4") between two IPv6 sites across an IPv4-only core."""

    def build(self, bw=None, delay=None, jitter=None, loss=None, max_queue_size=None):
        shaping = shaping_options(locals())
        self.addHost('core', cls=Router, ip=None, ipv6=False, addresses=(('192.0.2.254/24',),
                                                                          ('198.51.100.254/24',)))
        for index, (router, host, v4, peer) in enumerate((('r1', 'a', '192.0.2.1', '198.51.100.1'),
                                                          ('r2', 'b', '198.51.100.1', '192.0.2.1')), start=1):
            other = 3 - index
            self.addHost(router, cls=TunnelEndpoint, ip=None, v4=f'{v4}/24', v4_gateway=v4.rsplit('.', 1)[0] + '.254',
                         tunnel={'mode': 'manual', 'remote': peer}, tunnel_address=f'2001:db8:ffff::{index}/64',
                         lans=(f'2001:db8:{index}::1/64',), routes6=(f'2001:db8:{other}::/64',))
            _host(self, host, ip6=f'2001:db8:{index}::10/64', gateway6=f'2001:db8:{index}::1')
            self.addLink(router, 'core', **shaping)   # interface 0 of the router: its IPv4 side
            self.addLink(router, host)


class V4CompatTopo(TestbedTopo):
    """Automatic tunnels with IPv4-compatible addresses (RFC 2893, historic): h1 and h2 yes, native c no."""

    def build(self, bw=None, delay=None, jitter=None, loss=None, max_queue_size=None):
        shaping = shaping_options(locals())
        self.addHost('core', cls=Router, ip=None, addresses=(('192.0.2.254/24',), ('198.51.100.254/24',),
                                                             ('2001:db8:c::1/64',)))
        for name, v4 in (('h1', '192.0.2.10'), ('h2', '198.51.100.10')):
            self.addHost(name, cls=TunnelEndpoint, ip=None, v4=f'{v4}/24', v4_gateway=v4.rsplit('.', 1)[0] + '.254',
                         tunnel={'mode': 'v4compat'}, tunnel_address=f'{v4compat_address(v4)}/96',
                         routes6=('default',))
            self.addLink(name, 'core', **shaping)
        _host(self, 'c', ip6=f'{NATIVE_C}/64', gateway6='2001:db8:c::1')
        self.addLink('c', 'core')


class SixRdTopo(TestbedTopo):
    """6rd (RFC 5969): two customer edges in an ISP's IPv4 network, its 6rd prefix, a border relay to native IPv6."""

    def build(self, prefix=SIXRD['prefix'], v4_common=SIXRD['v4_common'], bw=None, delay=None, jitter=None,
              loss=None, max_queue_size=None):
        shaping = shaping_options(locals())
        check_count('v4_common', v4_common, 0, 32)
        sixrd = {**SIXRD, 'prefix': prefix, 'v4_common': int(v4_common),
                 'v4_prefix': str(ipaddress.IPv4Network(f'{SIXRD["v4_prefix"].split("/")[0]}/{v4_common}',
                                                        strict=False))}
        domain = sixrd_domain(**sixrd)
        self.addHost('core', cls=Router, ip=None, ipv6=False, addresses=(('10.64.0.254/24',), ('10.64.1.254/24',),
                                                                          ('10.64.2.254/24',)))
        br_prefix = domain.delegated_prefix(SIXRD['relay'])
        self.addHost('br', cls=TunnelEndpoint, ip=None, v4=f'{SIXRD["relay"]}/24', v4_gateway='10.64.0.254',
                     tunnel={'mode': '6rd', 'role': 'br', **sixrd},
                     tunnel_address=f'{br_prefix.network_address + 1}/{domain.prefix.prefixlen}',
                     lans=('2001:db8:c::1/64',), routes6=())
        self.addLink('br', 'core', **shaping)
        _host(self, 'c', ip6=f'{NATIVE_C}/64', gateway6='2001:db8:c::1')
        self.addLink('br', 'c')
        for index, (ce, host) in enumerate((('ce1', 'a'), ('ce2', 'b')), start=1):
            v4 = f'10.64.{index}.1'
            delegated = domain.delegated_prefix(v4)
            lan = ipaddress.IPv6Network((int(delegated.network_address) | (1 << 64), 64))  # subnet 1 of its prefix
            self.addHost(ce, cls=TunnelEndpoint, ip=None, v4=f'{v4}/24', v4_gateway=f'10.64.{index}.254',
                         tunnel={'mode': '6rd', 'role': 'ce', **sixrd},
                         tunnel_address=f'{delegated.network_address + 1}/{domain.prefix.prefixlen}',
                         lans=(f'{lan.network_address + 1}/64',), routes6=(f'default via ::{SIXRD["relay"]}',))
            _host(self, host, ip6=f'{lan.network_address + 0x10}/64', gateway6=str(lan.network_address + 1))
            self.addLink(ce, 'core', **shaping)
            self.addLink(ce, host)


class IsatapTopo(TestbedTopo):
    """ISATAP (RFC 5214): hosts behind private IPv4 addresses on one IPv6 link, a router to native IPv6 that they
    find by router discovery, and a host whose potential router list is wrong."""

    def build(self, bw=None, delay=None, jitter=None, loss=None, max_queue_size=None):
        shaping = shaping_options(locals())
        self.addSwitch('s1')
        tunnel = {'mode': 'isatap', 'prefixes': [ISATAP_PREFIX]}
        self.addHost('isr', cls=IsatapRouter, ip=None, v4='10.0.0.1/24', tunnel={**tunnel, 'role': 'router'},
                     tunnel_address=f'{isatap_address(ISATAP_PREFIX, "10.0.0.1")}/64', lans=('2001:db8:c::1/64',),
                     routes6=())
        self.addLink('isr', 's1', **shaping)
        _host(self, 'c', ip6=f'{NATIVE_C}/64', gateway6='2001:db8:c::1')
        self.addLink('isr', 'c')
        for name, v4, router in (('h1', '10.0.0.2', '10.0.0.1'), ('h2', '10.0.0.3', '10.0.0.1'),
                                 ('h3', '10.0.0.4', '10.0.0.9')):
            self.addHost(name, cls=IsatapHost, ip=None, v4=f'{v4}/24',
                         tunnel={**tunnel, 'role': 'host', 'routers': [router]}, routes6=())
            self.addLink(name, 's1', **shaping)


class SixOverFourTopo(TestbedTopo):
    """6over4 (RFC 2529): one IPv4 multicast domain as an IPv6 link; a host beyond it reaches nobody."""

    def build(self, bw=None, delay=None, jitter=None, loss=None, max_queue_size=None):
        shaping = shaping_options(locals())
        self.addSwitch('s1')
        router_ll = str(sixover4_link_local('192.0.2.1'))
        self.addHost('r6', cls=SixOverFourEndpoint, ip=None, v4='192.0.2.1/24', tunnel={'mode': '6over4'},
                     tunnel_address=f'{_sixover4_address("192.0.2.1")}/64', lans=('2001:db8:c::1/64',), routes6=())
        self.addLink('r6', 's1', **shaping)
        _host(self, 'c', ip6=f'{NATIVE_C}/64', gateway6='2001:db8:c::1')
        self.addLink('r6', 'c')
        self.addHost('core', cls=Router, ip=None, ipv6=False, addresses=(('192.0.2.254/24',),
                                                                          ('198.51.100.254/24',)))
        self.addLink('core', 's1', **shaping)
        for name, v4, switch in (('h1', '192.0.2.10', 's1'), ('h2', '192.0.2.11', 's1'),
                                 ('h3', '198.51.100.10', 'core')):
            self.addHost(name, cls=SixOverFourEndpoint, ip=None, v4=f'{v4}/24',
                         v4_gateway=v4.rsplit('.', 1)[0] + '.254', tunnel={'mode': '6over4'},
                         tunnel_address=f'{_sixover4_address(v4)}/64',
                         routes6=(f'default via {router_ll}',))
            self.addLink(name, switch, **shaping)


def _sixover4_address(v4):
    return ipaddress.IPv6Network(SIXOVER4_PREFIX).network_address + int(ipaddress.IPv4Address(v4))


class Nat64Topo(TestbedTopo):
    """NAT64 + DNS64 (RFC 6146/6147): IPv6-only hosts reach an IPv4-only server; x6 adds a 464XLAT CLAT."""

    def build(self, prefix=NAT64_PREFIX, bw=None, delay=None, jitter=None, loss=None, max_queue_size=None):
        shaping = shaping_options(locals())
        if nat64_prefix(prefix) == WELL_KNOWN_PREFIX and not ipaddress.IPv4Address(V4_SERVER).is_global:
            raise TestbedError(f'nat64: the well-known prefix {WELL_KNOWN_PREFIX} cannot carry {V4_SERVER}, a '
                               f'documentation address (RFC 6052 section 3.1): use a network-specific prefix')
        self.addSwitch('s1')
        self.addHost('nat64', cls=Nat64Router, ip=None, v6='2001:db8:1::1/64', v4='198.51.100.1/24', prefix=prefix,
                     dns64=True, authoritative=V4_SERVER)
        self.addHost('v4srv', cls=AuthoritativeDns, ip=f'{V4_SERVER}/24', records={'v4srv': [V4_SERVER]})
        self.addLink('nat64', 's1', **shaping)     # interface 0: the IPv6-only network
        self.addLink('nat64', 'v4srv', **shaping)  # interface 1: the IPv4 Internet
        self.addHost('h6', cls=RoutedHost, ip=None, ip6='2001:db8:1::10/64', gateway6='2001:db8:1::1',
                     dns='2001:db8:1::1')
        self.addHost('x6', cls=ClatHost, ip=None, ip6='2001:db8:1::20/64', gateway6='2001:db8:1::1',
                     dns='2001:db8:1::1', clat_v6='2001:db8:1::464', plat_prefix=prefix)
        for host in ('h6', 'x6'):
            self.addLink(host, 's1')


class BrokerTopo(TestbedTopo):
    """A tunnel broker (RFC 3053): clients ask for a tunnel and a prefix, the broker configures both ends."""

    def build(self, bw=None, delay=None, jitter=None, loss=None, max_queue_size=None):
        shaping = shaping_options(locals())
        self.addHost('core', cls=Router, ip=None, ipv6=False, addresses=(
            ('192.0.2.254/24',), ('198.51.100.254/24',), ('203.0.113.254/24',)))
        for name, v4 in (('c1', '192.0.2.10'), ('c2', '198.51.100.10')):
            self.addHost(name, cls=BrokerClient, ip=None, v4=f'{v4}/24', v4_gateway=v4.rsplit('.', 1)[0] + '.254',
                         broker=BROKER_V4)
            self.addLink(name, 'core', **shaping)
        self.addHost('tb', cls=TunnelBroker, ip=None, v4=f'{BROKER_V4}/24',
                     addresses=((f'{BROKER_V4}/24',), ('2001:db8:c::1/64',)),
                     routes=('default via 203.0.113.254',))
        self.addLink('core', 'tb', **shaping)   # core interface 2, tb interface 0
        _host(self, 'c', ip6=f'{NATIVE_C}/64', gateway6='2001:db8:c::1')
        self.addLink('tb', 'c')


# side -> the nodes on the links of that side's router (ra, rb), in interface order; a link's place gives its
# networks (_side). rly and tb have two links each (IPv4, then native IPv6); on side b, place 4 is NAT64's IPv4 side
# (198.51.100.64/28), which rb does not reach.
COMPARE_LINKS = {'a': ('ds1', 't1', 'ce1', 'h6', 'x6', 'six1', 'is1', 'vc1', 'bc1'),
                 'b': ('ds2', 't2', 'ce2', 'nat64', None, 'six2', 'isr', 'vc2', 'rly', 'rly', 'tb', 'tb')}
FAR = ('rly', 'tb')     # behind links of ``relay_delay``: the detours a relay and a tunnel server cost
BROKER_POOLS = {'links': '2001:db8:f1::/48', 'sites': '2001:db8:f200::/40'}


def _side(side, index):
    """(IPv4 network, IPv6 network) of link ``index`` of router ra (side 'a') or rb (side 'b')."""
    base = '192.0.2' if side == 'a' else '198.51.100'
    return ipaddress.IPv4Network(f'{base}.{16 * index}/28'), ipaddress.IPv6Network(f'2001:db8:{side}{index:x}::/64')


def _address(network, host):
    return f'{network.network_address + host}/{network.prefixlen}'


class TransitionCompareTopo(TestbedTopo):
    """The mechanisms side by side over one shaped core link: dual stack, 6in4, 6rd, 6to4, ISATAP, IPv4-compatible
    tunnels, NAT64 and 464XLAT; a 6to4 relay and a tunnel broker behind links of ``relay_delay``."""

    def build(self, bw=None, delay=None, jitter=None, loss=None, max_queue_size=None, relay_delay='5ms'):
        shaping = shaping_options(locals())
        links = {}   # node -> [(IPv4 network, IPv6 network)] of its links to ra or rb, in order
        for side, names in COMPARE_LINKS.items():
            for index, name in enumerate(names):
                if name:
                    links.setdefault(name, []).append(_side(side, index))
        v4 = lambda name, k=0: _address(links[name][k][0], 2)                 # noqa: E731 - the node's end
        v6 = lambda name, k=0: _address(links[name][k][1], 2)                 # noqa: E731
        gw4 = lambda name, k=0: str(links[name][k][0].network_address + 1)    # noqa: E731 - the router's end
        gw6 = lambda name, k=0: str(links[name][k][1].network_address + 1)    # noqa: E731
        at = lambda address: address.split('/')[0]                            # noqa: E731
        for side, other in (('a', 'b'), ('b', 'a')):
            addresses = [('203.0.113.1/30', '2001:db8:ff::1/64') if side == 'a' else
                         ('203.0.113.2/30', '2001:db8:ff::2/64')]
            addresses += [(_address(n4, 1), _address(n6, 1)) for n4, n6 in
                          (_side(side, index) for index, name in enumerate(COMPARE_LINKS[side]) if name)]
            peer, peer6 = ('203.0.113.2', '2001:db8:ff::2') if side == 'a' else ('203.0.113.1', '2001:db8:ff::1')
            routes = [f'{"198.51.100.0/24" if side == "a" else "192.0.2.0/24"} via {peer}',
                      f'2001:db8:{other}0::/44 via {peer6}']
            if side == 'a':   # what lies behind rb
                routes += [f'{NAT64_PREFIX} via {peer6}', f'{RELAY_ANYCAST}/32 via {peer}', f'2002::/16 via {peer6}']
                routes += [f'{pool} via {peer6}' for pool in BROKER_POOLS.values()]
            else:
                routes += [f'{NAT64_PREFIX} via {at(v6("nat64"))}', f'{RELAY_ANYCAST}/32 via {at(v4("rly"))}',
                           f'2002::/16 via {at(v6("rly", 1))}']
                routes += [f'{pool} via {at(v6("tb", 1))}' for pool in BROKER_POOLS.values()]
            self.addHost(f'r{side}', cls=Router, ip=None, addresses=tuple(addresses), routes=tuple(routes))
        self.addLink('ra', 'rb', **shaping)     # interface 0 of both: the core link
        sixrd = {'prefix': '2001:db8::/32', 'v4_common': 0, 'relay': '198.51.100.254'}  # CE to CE: no BR needed
        for number, other in ((1, 2), (2, 1)):
            ds, t, ce, six, vc = (f'{kind}{number}' for kind in ('ds', 't', 'ce', 'six', 'vc'))
            self.addHost(ds, cls=RoutedHost, ip=v4(ds), defaultRoute=f'via {gw4(ds)}', ip6=v6(ds), gateway6=gw6(ds))
            self.addHost(t, cls=TunnelEndpoint, ip=None, v4=v4(t), v4_gateway=gw4(t),
                         tunnel={'mode': 'manual', 'remote': at(v4(f't{other}'))},
                         tunnel_address=f'2001:db8:4::{number}/64', routes6=())
            self.addHost(ce, cls=TunnelEndpoint, ip=None, v4=v4(ce), v4_gateway=gw4(ce),
                         tunnel={'mode': '6rd', **sixrd}, routes6=(),
                         tunnel_address=f'{sixrd_domain(**sixrd).delegated_prefix(at(v4(ce)))[1]}/32')
            self.addHost(six, cls=TunnelEndpoint, ip=None, v4=v4(six), v4_gateway=gw4(six),   # native via the relay
                         tunnel={'mode': '6to4', 'role': 'router'}, routes6=(f'default via ::{RELAY_ANYCAST}',),
                         tunnel_address=f'{router_6to4_address(at(v4(six)))}/16')
            self.addHost(vc, cls=TunnelEndpoint, ip=None, v4=v4(vc), v4_gateway=gw4(vc), tunnel={'mode': 'v4compat'},
                         tunnel_address=f'{v4compat_address(at(v4(vc)))}/96', routes6=('default',))
        self.addHost('h6', cls=RoutedHost, ip=None, ip6=v6('h6'), gateway6=gw6('h6'))
        self.addHost('x6', cls=ClatHost, ip=None, ip6=v6('x6'), gateway6=gw6('x6'), plat_prefix=NAT64_PREFIX,
                     clat_v6=str(links['x6'][0][1].network_address + 0x464))
        self.addHost('nat64', cls=Nat64Router, ip=None, v6=v6('nat64'), v4='198.51.100.65/28', prefix=NAT64_PREFIX,
                     routes=(f'default via {gw6("nat64")}',))
        self.addHost('v4srv', cls=RoutedHost, ip=f'{V4_SERVER_COMPARE}/28')
        isatap = {'mode': 'isatap', 'prefixes': [ISATAP_PREFIX]}   # one ISATAP link across the routed core
        self.addHost('is1', cls=IsatapHost, ip=None, v4=v4('is1'), v4_gateway=gw4('is1'),
                     tunnel={**isatap, 'routers': [at(v4('isr'))]}, routes6=())
        self.addHost('isr', cls=IsatapRouter, ip=None, v4=v4('isr'), v4_gateway=gw4('isr'),
                     tunnel={**isatap, 'role': 'router'}, routes6=(),
                     tunnel_address=f'{isatap_address(ISATAP_PREFIX, at(v4("isr")))}/64')
        self.addHost('rly', cls=SixToFourRelay, ip=None, v4=v4('rly'), v4_gateway=gw4('rly'), ip6=v6('rly', 1),
                     gateway6=gw6('rly', 1))
        self.addHost('tb', cls=TunnelBroker, ip=None, v4=v4('tb'), pools=BROKER_POOLS,
                     addresses=((v4('tb'),), (v6('tb', 1),)),
                     routes=(f'default via {gw4("tb")}', f'default via {gw6("tb", 1)}'))
        self.addHost('bc1', cls=BrokerClient, ip=None, v4=v4('bc1'), v4_gateway=gw4('bc1'), broker=at(v4('tb')))
        far = shaping_options({'delay': relay_delay})
        for side, names in COMPARE_LINKS.items():
            for name in names:
                if name:
                    self.addLink(f'r{side}', name, **(far if name in FAR else {}))
        self.addLink('nat64', 'v4srv')          # nat64 interface 1 (0 faces rb): the IPv4-only server


topos = {'dual-stack': DualStackTopo, '6in4': SixInFourTopo, 'v4compat': V4CompatTopo, '6rd': SixRdTopo,
         'isatap': IsatapTopo, 'nat64': Nat64Topo, 'transition-compare': TransitionCompareTopo,
         'broker': BrokerTopo, '6over4': SixOverFourTopo}
