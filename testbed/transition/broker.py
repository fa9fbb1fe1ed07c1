"""A tunnel broker's decisions (RFC 3053), as pure code: who gets which tunnel and which prefix.

A client asks the broker for a tunnel, giving its IPv4 address; the broker picks the tunnel server (here: one,
itself), allocates a /64 for the tunnel's link (server ::1, client ::2) and a prefix for the client's site, has
the server configure its end, and returns the client's configuration, which the client applies (a manually
configured 6in4 tunnel, RFC 4213). Asking again with the same IPv4 address returns the same tunnel.

What a real broker adds, and this one does not: accounts and authentication, the Tunnel Setup Protocol (RFC 5572)
that also crosses NAT (UDP encapsulation), keep-alives, updating the tunnel when the client's IPv4 address
changes, reverse DNS for the delegated prefix, and several tunnel servers to choose from.
"""
import ipaddress
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional

from testbed.errors import RequestRefused

MAX_TUNNELS = 256               # a bound on what one emulated tunnel server holds


class BrokerError(RequestRefused):
    """A request the broker refuses; ``status`` is the HTTP status it answers with."""


@dataclass(frozen=True)
class Allocation:
    """One client's tunnel: the IPv4 ends, the link's addresses and the site prefix routed to the client."""
    number: int
    client_v4: str
    server_v4: str
    server_address: str         # 'address/64' on the tunnel's link
    client_address: str
    prefix: str                 # the client site's prefix, routed over the tunnel

    def as_dict(self) -> Dict:
        return asdict(self)


class Broker:
    """Allocations of one tunnel server with IPv4 address ``server_v4``: links from ``links`` (/64s), site
    prefixes of length ``site_length`` from ``sites``, at most ``limit`` tunnels."""

    def __init__(self, server_v4: str, links: str = '2001:db8:b1::/48', sites: str = '2001:db8:b200::/40',
                 site_length: int = 56, limit: int = MAX_TUNNELS):
        self.server_v4 = str(ipaddress.IPv4Address(server_v4))
        self.links, self.sites = ipaddress.IPv6Network(links), ipaddress.IPv6Network(sites)
        if self.links.prefixlen > 64 or not self.sites.prefixlen <= site_length <= 64:
            raise BrokerError(f'broker: links {links} must hold /64s and sites {sites} /{site_length}s')
        self.site_length = site_length
        self.limit = min(limit, 2 ** (64 - self.links.prefixlen), 2 ** (site_length - self.sites.prefixlen))
        self.tunnels: Dict[str, Allocation] = {}

    def request(self, body: object) -> Allocation:
        """The allocation for a request body ``{"client_v4": "a.b.c.d"}`` (parsed JSON); refuses one clear error."""
        if not isinstance(body, dict) or not isinstance(body.get('client_v4'), str):
            raise BrokerError('a tunnel request is a JSON object {"client_v4": "a.b.c.d"}')
        try:
            client = ipaddress.IPv4Address(body['client_v4'])
        except ValueError:
            raise BrokerError(f'client_v4 {body["client_v4"]!r} is not an IPv4 address') from None
        if str(client) == self.server_v4 or client.is_multicast or client.is_unspecified or client.is_loopback:
            raise BrokerError(f'client_v4 {client} cannot be a tunnel\'s far end')
        existing = self.tunnels.get(str(client))
        if existing:
            return existing
        used = {allocation.number for allocation in self.tunnels.values()}
        number = next((n for n in range(self.limit) if n not in used), None)
        if number is None:
            raise BrokerError(f'no tunnel left: this server holds {self.limit}', status=409)
        link = ipaddress.IPv6Network((int(self.links.network_address) | (number << 64), 64))
        site = ipaddress.IPv6Network((int(self.sites.network_address) | (number << (128 - self.site_length)),
                                      self.site_length))
        allocation = Allocation(number, str(client), self.server_v4, f'{link.network_address + 1}/64',
                                f'{link.network_address + 2}/64', str(site))
        self.tunnels[str(client)] = allocation
        return allocation

    def release(self, client_v4: str) -> Allocation:
        allocation = self.tunnels.pop(client_v4, None)
        if allocation is None:
            raise BrokerError(f'no tunnel for {client_v4}', status=404)
        return allocation

    def listing(self) -> List[Dict]:
        return [allocation.as_dict() for allocation in sorted(self.tunnels.values(), key=lambda a: a.number)]

    def find(self, client_v4: str) -> Optional[Allocation]:
        return self.tunnels.get(client_v4)
