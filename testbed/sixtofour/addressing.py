"""6to4 addressing and the RFC 3964 checks, as pure functions (no sockets, no root).

RFC 3056: a site whose exit router has the global IPv4 address V4 = a.b.c.d owns the IPv6 prefix
``2002:AABB:CCDD::/48`` (AABB:CCDD = the hex of V4). A 6to4 router wraps an IPv6 packet for ``2002::/16`` in an
IPv4 header (protocol 41) addressed to the IPv4 address embedded in the destination; native IPv6 destinations go
to a relay (RFC 3068: the anycast 192.88.99.1, whose own 6to4 address is 2002:c058:6301::1).

RFC 3964 (security considerations) asks a decapsulator to drop what it cannot trust: a 6to4 source that does not
embed the outer IPv4 source (spoofing), 6to4 addresses that embed addresses no 6to4 router can have (private,
loopback, multicast, broadcast, unspecified, link-local), and native sources that do not come from a relay.
``check_decapsulated`` makes that decision for the userspace encapsulator; ``martian_6to4_prefixes`` gives the same
list as IPv6 prefixes for ip6tables rules on the kernel (sit) path.

RFC 7526 (2015) deprecated the anycast relay prefix 192.88.99.0/24: relays were often far away, broken or
unaccountable, so 6to4 through anycast relays gave users worse service than IPv4. The testbed still builds it,
because it is what the paper teaches and it shows anycast routing at work.
"""
import functools
import ipaddress
from typing import Iterable, List, Optional, Tuple, Union

AnyV4 = Union[str, ipaddress.IPv4Address]  # an IPv4 address, as text or parsed
PREFIX_6TO4 = ipaddress.IPv6Network('2002::/16')
RELAY_ANYCAST = ipaddress.IPv4Address('192.88.99.1')     # RFC 3068
RELAY_ANYCAST_PREFIX = ipaddress.IPv4Network('192.88.99.0/24')
PROTO_IPV6_IN_IPV4 = 41
TUNNEL_MTU = 1480                                        # 1500 - the 20-byte IPv4 header
TUNNEL_TTL = 64
TUNNEL_DEVICE = 'tun6to4'

# IPv4 addresses a 6to4 prefix may not embed (RFC 3964 section 5.3.1, plus link-local and "this network").
MARTIAN_V4 = tuple(ipaddress.IPv4Network(prefix) for prefix in (
    '0.0.0.0/8',         # unspecified / this network
    '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16',   # private (RFC 1918)
    '127.0.0.0/8',       # loopback
    '169.254.0.0/16',    # link-local
    '224.0.0.0/4',       # multicast
    '240.0.0.0/4',       # reserved, including the limited broadcast 255.255.255.255
))


class SixToFourError(ValueError):
    """An address that cannot take part in 6to4 (the message says why)."""


def martian_reason(v4: AnyV4) -> Optional[str]:
    """Why an IPv4 address cannot be a 6to4 router's, or None if it can."""
    address = ipaddress.IPv4Address(v4)
    names = {'0.0.0.0/8': 'unspecified', '10.0.0.0/8': 'private', '172.16.0.0/12': 'private',
             '192.168.0.0/16': 'private', '127.0.0.0/8': 'loopback', '169.254.0.0/16': 'link-local',
             '224.0.0.0/4': 'multicast', '240.0.0.0/4': 'reserved/broadcast'}
    for network in MARTIAN_V4:
        if address in network:
            return f'{names[str(network)]} ({network})'
    return None


def site_prefix(v4: AnyV4) -> ipaddress.IPv6Network:
    """The /48 a 6to4 router with global IPv4 address ``v4`` owns: 192.0.2.1 -> 2002:c000:201::/48."""
    address = ipaddress.IPv4Address(str(v4).split('/')[0])
    reason = martian_reason(address)
    if reason:
        raise SixToFourError(f'{address} cannot form a 6to4 prefix: it is a {reason} address (RFC 3964)')
    return ipaddress.IPv6Network(((0x2002 << 112) | (int(address) << 80), 48))


def subnet(v4: AnyV4, number: int) -> ipaddress.IPv6Network:
    """The site's /64 number ``number`` (SLA id, 0..65535): subnet('192.0.2.1', 1) -> 2002:c000:201:1::/64."""
    if not 0 <= number <= 0xffff:
        raise SixToFourError(f'subnet id {number} is outside 0..65535 (16 bits of SLA)')
    prefix = site_prefix(v4)
    return ipaddress.IPv6Network((int(prefix.network_address) | (number << 64), 64))


def address_in(network: ipaddress.IPv6Network, interface_id: int) -> ipaddress.IPv6Address:
    """The address with ``interface_id`` (an int) inside ``network``."""
    return network.network_address + interface_id


def router_6to4_address(v4: AnyV4) -> ipaddress.IPv6Address:
    """The address of a router's 6to4 interface, 2002:V4::1 (the relay: 2002:c058:6301::1)."""
    return address_in(site_prefix(v4), 1)


def embedded_v4(v6: Union[str, ipaddress.IPv6Address]) -> Optional[ipaddress.IPv4Address]:
    """The IPv4 address inside a 2002::/16 address, or None for other addresses."""
    address = ipaddress.IPv6Address(v6)
    if address not in PREFIX_6TO4:
        return None
    return ipaddress.IPv4Address((int(address) >> 80) & 0xffffffff)


def tunnel_destination(v6_dst: Union[str, ipaddress.IPv6Address],
                       relay: ipaddress.IPv4Address = RELAY_ANYCAST) -> ipaddress.IPv4Address:
    """Where a 6to4 router sends an IPv6 packet: the embedded IPv4 address, or the relay for native IPv6."""
    v4 = embedded_v4(v6_dst)
    return v4 if v4 is not None else ipaddress.IPv4Address(relay)


def martian_6to4_prefixes() -> List[ipaddress.IPv6Network]:
    """The 2002:V4::/N prefixes that embed a martian IPv4 network (for ip6tables rules on the sit path)."""
    return [ipaddress.IPv6Network(((0x2002 << 112) | (int(net.network_address) << 80), 16 + net.prefixlen))
            for net in MARTIAN_V4]


# -- the encapsulator's decisions (RFC 3964), on raw bytes: they run once per packet ------------------------------

DROP_REASONS = ('malformed', 'spoofed', 'martian', 'not_from_relay', 'wrong_destination', 'link_scope')
_MARTIAN_MASKS = tuple((int(net.netmask), int(net.network_address)) for net in MARTIAN_V4)
_PREFIX_BYTES = b'\x20\x02'


@functools.lru_cache(maxsize=4096)
def martian_bytes(v4: bytes) -> bool:
    """Whether a packed IPv4 address is martian; remembered per address, since a tunnel sees few of them and this
    runs twice per packet in the userspace encapsulator (it was a fifth of its time)."""
    value = int.from_bytes(v4, 'big')
    return any(value & mask == network for mask, network in _MARTIAN_MASKS)


def site_key(v4: AnyV4) -> bytes:
    """The first 6 bytes of a site's addresses (its /48), as ``decapsulate`` compares them."""
    return site_prefix(v4).network_address.packed[:6]


def split_datagram(datagram: bytes) -> Optional[Tuple[bytes, bytes]]:
    """(packed outer IPv4 source, inner IPv6 packet) of a well-formed protocol-41 datagram (IPv4 header included,
    lengths consistent), else None: every tunnel mode's first check (testbed.transition.tunnels)."""
    if len(datagram) < 20:
        return None
    header = (datagram[0] & 0x0f) * 4
    if datagram[0] >> 4 != 4 or header < 20 or datagram[9] != PROTO_IPV6_IN_IPV4 \
            or int.from_bytes(datagram[2:4], 'big') != len(datagram):
        return None
    inner = datagram[header:]
    if len(inner) < 40 or inner[0] >> 4 != 6 or int.from_bytes(inner[4:6], 'big') + 40 != len(inner):
        return None
    return datagram[12:16], inner


def decapsulate(datagram: bytes, role: str, own_sites: Iterable[bytes] = (),
                relays: Iterable[bytes] = (RELAY_ANYCAST.packed,)) -> Tuple[Optional[bytes], Optional[str]]:
    """Check one protocol-41 datagram (IPv4 header included, as a raw socket returns it) against RFC 3964.

    Returns ``(ipv6_packet, None)`` to deliver, or ``(None, reason)`` with a reason from ``DROP_REASONS``.
    ``role`` 'router': the inner destination must be in one of ``own_sites`` (6-byte /48 keys from ``site_key``)
    and a native (non-6to4) inner source must arrive from one of ``relays`` (packed IPv4 addresses). ``role``
    'relay': the inner source must be 6to4 and the destination native (6to4-to-6to4 never needs a relay), or
    the relay's own 6to4 site (``own_sites``: packets for the relay itself, as the kernel delivers them to it).
    Every role: a 6to4 inner source must embed the outer IPv4 source (checked first, as sit does), and no 6to4
    address may embed a martian."""
    parts = split_datagram(datagram)
    if parts is None:
        return None, 'malformed'
    outer_src, inner = parts
    src, dst = inner[8:24], inner[24:40]
    src_6to4, dst_6to4 = src[:2] == _PREFIX_BYTES, dst[:2] == _PREFIX_BYTES
    if src_6to4 and src[2:6] != outer_src:  # checked first, as the kernel's sit device does
        return None, 'spoofed'
    if (src_6to4 and martian_bytes(src[2:6])) or (dst_6to4 and martian_bytes(dst[2:6])) \
            or src[0] == 0xff or src == bytes(16) or src == bytes(15) + b'\x01' or src[:2] == b'\xfe\x80':
        return None, 'martian'
    if role == 'relay':
        if not src_6to4:
            return None, 'spoofed'  # a relay serves 6to4 sites: a native source cannot arrive over IPv4
        if dst_6to4 and dst[:6] not in own_sites:
            return None, 'wrong_destination'
        return inner, None
    if not src_6to4 and outer_src not in relays:
        return None, 'not_from_relay'
    if dst[:6] not in own_sites:
        return None, 'wrong_destination'
    return inner, None


def encapsulation_target(inner: bytes, role: str,
                         relay: bytes = RELAY_ANYCAST.packed) -> Tuple[Optional[bytes], Optional[str]]:
    """Where to tunnel an IPv6 packet read from the 6to4 interface: (packed IPv4 destination, None) or
    (None, reason). 6to4 destinations go to the IPv4 address they embed; native ones to the relay (routers only)."""
    if len(inner) < 40 or inner[0] >> 4 != 6:
        return None, 'malformed'
    dst = inner[24:40]
    if dst[0] == 0xff or dst[:2] == b'\xfe\x80' or inner[8:10] == b'\xfe\x80':
        return None, 'link_scope'  # multicast and link-local packets never leave the link (sit drops them too)
    if dst[:2] == _PREFIX_BYTES:
        target = dst[2:6]
    elif role == 'relay':
        return None, 'wrong_destination'  # the relay's tunnel only carries traffic toward 6to4 sites
    else:
        target = relay
    if martian_bytes(target):
        return None, 'martian'
    return target, None
