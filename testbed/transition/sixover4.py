"""6over4 (RFC 2529) as pure functions: an IPv4 multicast domain used as a virtual Ethernet for IPv6.

- An interface's identifier is its IPv4 address (fe80::a.b.c.d, RFC 2529 section 5).
- Its link-layer address, in neighbour discovery's options, is the IPv4 address followed by two zero bytes
  (section 6: option length 1). That is the size of an Ethernet address, so the userspace 6over4 interface is a TAP
  device whose MAC is exactly those six bytes: the kernel's own neighbour discovery then writes RFC 2529's options.
  Such a MAC must be unicast, so the IPv4 address's first octet must be even.
- IPv6 multicast goes to the IPv4 group 239.192.X.Y, X.Y the IPv6 group's last two bytes (section 7,
  organisation-local scope), with the IPv4 TTL ``MULTICAST_TTL``; unicast goes to the IPv4 address in the
  destination's link-layer address.

Frames are what the TAP device reads and writes: a 14-byte Ethernet header and an IPv6 packet.
"""
import ipaddress
from typing import Optional, Tuple

from testbed.errors import TestbedError

GROUP_BASE = ipaddress.IPv4Address('239.192.0.0')
MULTICAST_TTL = 8
ETHERTYPE_IPV6 = b'\x86\xdd'
DEVICE = 'tun6over4'


class SixOverFourError(TestbedError):
    """An IPv4 address that cannot be a 6over4 interface's (the message says why)."""


def link_address(v4: str) -> bytes:
    """The six-byte link-layer address of a 6over4 interface: its IPv4 address and two zero bytes."""
    address = ipaddress.IPv4Address(v4)
    if address.packed[0] & 1:
        raise SixOverFourError(f'6over4: {address} would make a multicast link-layer address (first octet odd); '
                               'the testbed\'s 6over4 interfaces need an even first octet')
    return address.packed + b'\x00\x00'


def mac_text(v4: str) -> str:
    return ':'.join(f'{byte:02x}' for byte in link_address(v4))


def link_local(v4: str) -> ipaddress.IPv6Address:
    """fe80::a.b.c.d, the interface's link-local address."""
    return ipaddress.IPv6Address((0xfe80 << 112) | int(ipaddress.IPv4Address(v4)))


def group_of(ipv6_group: bytes) -> bytes:
    """The IPv4 group (packed) of an IPv6 multicast address (packed): 239.192 and its last two bytes."""
    return GROUP_BASE.packed[:2] + ipv6_group[14:16]


def to_ipv4(frame: bytes) -> Tuple[Optional[bytes], Optional[bytes], Optional[str]]:
    """(IPv6 packet, packed IPv4 destination, None) for a frame the kernel wrote to the TAP, or (None, None,
    reason)."""
    if len(frame) < 14 + 40 or frame[12:14] != ETHERTYPE_IPV6 or frame[14] >> 4 != 6:
        return None, None, 'malformed'
    inner = frame[14:]
    if frame[0] == 0x33 and frame[1] == 0x33:
        return inner, group_of(inner[24:40]), None
    if frame[4:6] != b'\x00\x00':
        return None, None, 'no_mapping'
    return inner, frame[0:4], None


def to_frame(outer_src: bytes, inner: bytes, own: bytes) -> Tuple[Optional[bytes], Optional[str]]:
    """The Ethernet frame to write to the TAP for a decapsulated IPv6 packet from IPv4 ``outer_src`` (this
    interface's link-layer address is ``own``), or (None, reason)."""
    if len(inner) < 40 or inner[0] >> 4 != 6 or int.from_bytes(inner[4:6], 'big') + 40 != len(inner):
        return None, 'malformed'
    dst = inner[24:40]
    destination = b'\x33\x33' + dst[12:16] if dst[0] == 0xff else own
    return destination + outer_src + b'\x00\x00' + ETHERTYPE_IPV6 + inner, None
