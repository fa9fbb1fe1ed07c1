"""What the controller answers for the switches it turns into routers, as bytes (pure).

A switch hands the controller three kinds of packet (``flows.punt_flows`` and TTL expiry): an ARP request or an
IPv6 neighbour solicitation for a host's gateway address, which the switch answers as that gateway with its router
MAC; and a packet whose TTL or hop limit ran out, which it answers with ICMP time exceeded from its own address so
that traceroute shows one hop per switch. ``answer`` takes the frame and the switch's part of the plan and returns
what kind of packet it was and the reply frame (or None). Byte for byte what Ryu's packet library builds (a unit
test compares them).
"""
import ipaddress
import struct
from typing import Callable, Optional, Tuple

ETH_IPV4, ETH_ARP, ETH_IPV6, ETH_LLDP = 0x0800, 0x0806, 0x86dd, 0x88cc
ICMP, ICMPV6 = 1, 58
ND_SOLICIT, ND_ADVERT = 135, 136
TIME_EXCEEDED_V4, TIME_EXCEEDED_V6 = 11, 3
REPLY_TTL = 64
ND_HOP_LIMIT = 255
ADVERT_FLAGS = 0b111 << 29      # router, solicited, override
MIN_FRAME = 60                  # Ethernet's minimum frame without its FCS: shorter ones are padded
IPV6_QUOTE = 1232               # the part of an expired IPv6 packet quoted back: 1280 - 40 - 8 (RFC 4443)

Gateway = Callable[[str], bool]  # is this address a gateway the switch answers for?


def _mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(':', ''))


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b'\0'
    total = sum(struct.unpack(f'!{len(data) // 2}H', data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff


def _ethernet(dst: bytes, src: bytes, ethertype: int) -> bytes:
    return dst + src + struct.pack('!H', ethertype)


def _ipv4(src: bytes, dst: bytes, proto: int, payload: bytes) -> bytes:
    header = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(payload), 0, 0, REPLY_TTL, proto, 0, src, dst)
    return header[:10] + struct.pack('!H', _checksum(header)) + header[12:] + payload


def _icmpv6(src: bytes, dst: bytes, hop_limit: int, message: bytes) -> bytes:
    """An IPv6 packet carrying ``message`` (an ICMPv6 message whose checksum field is zero), checksum filled in."""
    pseudo = src + dst + struct.pack('!I3xB', len(message), ICMPV6)
    message = message[:2] + struct.pack('!H', _checksum(pseudo + message)) + message[4:]
    return struct.pack('!IHBB', 6 << 28, len(message), ICMPV6, hop_limit) + src + dst + message


def arp_reply(frame: bytes, router_mac: str, is_gateway: Gateway) -> Optional[bytes]:
    """The reply to an ARP request for a gateway address, from the router MAC; None for anything else."""
    if len(frame) < 42:
        return None
    operation, sender_mac, sender_ip, target_ip = struct.unpack('!6xH6s4s6x4s', frame[14:42])
    if operation != 1 or not is_gateway(str(ipaddress.IPv4Address(target_ip))):
        return None
    mac = _mac(router_mac)
    arp = struct.pack('!HHBBH6s4s6s4s', 1, ETH_IPV4, 6, 4, 2, mac, target_ip, sender_mac, sender_ip)
    return (_ethernet(frame[6:12], mac, ETH_ARP) + arp).ljust(MIN_FRAME, b'\0')


def neighbour_advert(frame: bytes, router_mac: str, is_gateway: Gateway) -> Optional[bytes]:
    """The neighbour advertisement answering a solicitation for a gateway address; None for anything else."""
    if len(frame) < 14 + 40 + 24 or frame[14 + 6] != ICMPV6 or frame[54] != ND_SOLICIT:
        return None
    source, target = frame[22:38], frame[62:78]
    if not is_gateway(str(ipaddress.IPv6Address(target))):
        return None
    mac = _mac(router_mac)
    advert = struct.pack('!BBHI16sBB6s', ND_ADVERT, 0, 0, ADVERT_FLAGS, target, 2, 1, mac)
    return _ethernet(frame[6:12], mac, ETH_IPV6) + _icmpv6(target, source, ND_HOP_LIMIT, advert)


def time_exceeded(frame: bytes, router_mac: str, router_ipv4: str, router_ipv6: str) -> Optional[bytes]:
    """ICMP (or ICMPv6) time exceeded for an expired packet, from the switch's own address, back to its sender."""
    ethertype = struct.unpack('!H', frame[12:14])[0]
    mac = _mac(router_mac)
    if ethertype == ETH_IPV4 and len(frame) >= 34:
        header_length = (frame[14] & 0x0f) * 4
        quoted = frame[14:14 + header_length + 8]
        message = struct.pack('!BBH4x', TIME_EXCEEDED_V4, 0, 0) + quoted
        message = message[:2] + struct.pack('!H', _checksum(message)) + message[4:]
        return _ethernet(frame[6:12], mac, ETH_IPV4) + _ipv4(ipaddress.IPv4Address(router_ipv4).packed,
                                                              frame[26:30], ICMP, message)
    if ethertype == ETH_IPV6 and len(frame) >= 54:
        message = struct.pack('!BBH4x', TIME_EXCEEDED_V6, 0, 0) + frame[14:14 + IPV6_QUOTE]
        return _ethernet(frame[6:12], mac, ETH_IPV6) + _icmpv6(ipaddress.IPv6Address(router_ipv6).packed,
                                                                frame[22:38], REPLY_TTL, message)
    return None


def answer(frame: bytes, switch: dict, ttl_expired: bool, is_gateway: Gateway) -> Tuple[str, Optional[bytes]]:
    """(what the packet was, the reply frame or None) for a packet a router switch sent to the controller.

    ``switch`` is the plan's entry for the switch (``mac``, ``ipv4``, ``ipv6``); the kinds are 'lldp' (link
    discovery's, not ours), 'ttl_expired', 'arp', 'neighbour_solicitation' and 'other'."""
    if len(frame) < 14:
        return 'other', None
    ethertype = struct.unpack('!H', frame[12:14])[0]
    if ethertype == ETH_LLDP:
        return 'lldp', None
    if ttl_expired:
        return 'ttl_expired', time_exceeded(frame, switch['mac'], switch['ipv4'], switch['ipv6'])
    if ethertype == ETH_ARP and len(frame) >= 22 and frame[20:22] == b'\0\1':  # a request
        return 'arp', arp_reply(frame, switch['mac'], is_gateway)
    if ethertype == ETH_IPV6 and len(frame) > 54 and frame[20] == ICMPV6 and frame[54] == ND_SOLICIT:
        return 'neighbour_solicitation', neighbour_advert(frame, switch['mac'], is_gateway)
    return 'other', None
