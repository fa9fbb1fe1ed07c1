"""Lab 3 - a 6to4 router (RFC 3056) and its relay (RFC 3068). Fill in every TODO, then run:

    sudo .venv/bin/testbed lab grade 3 --student YOUR_ID --dir THIS_FOLDER

Addresses are strings ('192.0.2.1', '2002:c000:201::/48'). The standard library's ipaddress module helps.
Your router's IPv4 address is in params.json (and handout.md).
"""
import ipaddress  # noqa: F401  (you will want it)

RELAY_ANYCAST = '192.88.99.1'


def site_prefix(v4):
    """The /48 that a 6to4 router with IPv4 address ``v4`` owns: '192.0.2.1' -> '2002:c000:201::/48'."""
    # TODO: 2002 followed by the 32 bits of the IPv4 address (RFC 3056 section 2)
    raise NotImplementedError


def tunnel_destination(ipv6_destination):
    """The IPv4 address a 6to4 router sends an IPv6 packet to (the outer header's destination).

    A 2002::/16 destination: the IPv4 address embedded in it. Any other (native) destination: the relay anycast
    address, RELAY_ANYCAST."""
    # TODO
    raise NotImplementedError


def accept_from_tunnel(outer_source_v4, inner_source_v6):
    """Should a 6to4 router accept a decapsulated packet? (RFC 3964 section 5.1)

    A 6to4 inner source (2002::/16) must embed the outer IPv4 source (else it is spoofed); a native inner source
    is accepted only from the relay (outer source RELAY_ANYCAST)."""
    # TODO
    raise NotImplementedError


# Your router r1's configuration (handout task 2): the grader applies exactly this to r1 and host a.
ROUTER = {
    'lan_prefix': None,      # TODO: subnet 1 of your site, e.g. '2002:c000:201:1::/64'
    'router_address': None,  # TODO: r1's address on that LAN (interface id ::1)
    'host_address': None,    # TODO: host a's address on that LAN (interface id ::10)
    'tunnel_mtu': None,      # TODO: the 6to4 interface's MTU (1500-byte IPv4 links)
    'default_via': None,     # TODO: the next hop of the default route (native IPv6): the relay's 6to4 address
}
