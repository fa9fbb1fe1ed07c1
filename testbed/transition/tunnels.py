"""The survey's tunnel modes as pure mappings, for one userspace encapsulator that serves them all.

Every mode answers two questions on raw bytes (they run once per packet):

- ``target(inner)``: to which IPv4 address does an IPv6 packet read from the tunnel interface go?
- ``accept(datagram)``: may a protocol-41 datagram (IPv4 header included) be decapsulated, and if not, why?

The answers are ``(value, None)`` or ``(None, reason)``, with reasons from ``DROP_REASONS``. The modes, in the
paper's order, with the RFC each follows (the kernel's ``sit`` device has the same modes but v4compat, which
Linux only does on its fallback device ``sit0``):

- ``manual`` (RFC 4213 section 3, "6in4"): one configured peer; everything goes to it, and only it may send
  (section 3.6: the outer source must be the configured remote end).
- ``v4compat`` (RFC 2893 section 5.3, historic): IPv4-compatible destinations ``::a.b.c.d`` go to a.b.c.d; an
  IPv4-compatible source must embed the outer source. RFC 4213 removed the mechanism and RFC 4291 section 2.5.5.1
  deprecated the addresses: every host needs a global IPv4 address and reaches only other such hosts.
- ``6to4`` (RFC 3056, RFC 3068, RFC 3964 checks): ``testbed.sixtofour.addressing``.
- ``6rd`` (RFC 5969): 6to4 with the ISP's own prefix: a customer edge (CE) with IPv4 address V owns
  ``prefix || the low (32 - v4_common) bits of V``; destinations inside the 6rd prefix go to the IPv4 address
  they embed, the rest to the border relay (BR). Section 12: a decapsulated 6rd source must embed the outer source.
- ``isatap`` (RFC 5214): an IPv4 network as one IPv6 link; interface identifiers ``0:5efe:a.b.c.d``
  (``200:5efe:`` when the IPv4 address is global, RFC 5214 section 6.1); a host reaches on-link ISATAP
  addresses directly and everything else through a router of its potential router list (PRL); section 7.3:
  the outer source must be embedded in an on-link inner source or be a PRL router. Works behind private IPv4.
"""
import ipaddress
from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Optional, Tuple, Union

from testbed.errors import TestbedError
import testbed.sixtofour.addressing as sixtofour

Decision = Tuple[Optional[bytes], Optional[str]]
AnyV4 = Union[str, ipaddress.IPv4Address]

DROP_REASONS = sixtofour.DROP_REASONS + ('not_peer', 'no_mapping')
MODES = ('manual', 'v4compat', '6to4', '6rd', 'isatap')
DEVICES = {'manual': 'tun6in4', 'v4compat': 'tunv4compat', '6to4': sixtofour.TUNNEL_DEVICE, '6rd': 'tun6rd',
           'isatap': 'isatap0'}   # the tunnel interface's name in each mode, on both paths
ISATAP_IID = b'\x00\x00\x5e\xfe'          # RFC 5214 section 6.1, private (or unknown) IPv4 address
ISATAP_IID_GLOBAL = b'\x02\x00\x5e\xfe'   # the same with the universal/local bit set: a global IPv4 address
LINK_LOCAL_64 = b'\xfe\x80' + bytes(6)


class TunnelConfigError(TestbedError):
    """A tunnel mode's parameters that cannot work (the message says which and why)."""


def _bad_source(src: bytes) -> bool:
    """Sources no tunnel may deliver: multicast, unspecified, loopback."""
    return src[0] == 0xff or src == bytes(16) or src == bytes(15) + b'\x01'


def _unwrap(datagram: bytes) -> Union[str, Tuple[bytes, bytes, bytes, bytes]]:
    """(outer IPv4 source, inner packet, inner source, inner destination) of a datagram every mode may consider,
    or why none may: 'malformed', or 'martian' for a multicast, unspecified or loopback inner source."""
    parts = sixtofour.split_datagram(datagram)
    if parts is None:
        return 'malformed'
    outer_src, inner = parts
    src = inner[8:24]
    return 'martian' if _bad_source(src) else (outer_src, inner, src, inner[24:40])


def _v4(value: AnyV4, what: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(str(value).split('/')[0])
    except ValueError:
        raise TunnelConfigError(f'{what} {value!r} is not an IPv4 address') from None


@dataclass(frozen=True)
class Manual:
    """RFC 4213 6in4: one configured peer."""
    local: bytes
    remote: bytes

    def target(self, inner: bytes) -> Decision:
        if len(inner) < 40 or inner[0] >> 4 != 6:
            return None, 'malformed'
        return self.remote, None

    def accept(self, datagram: bytes) -> Decision:
        unwrapped = _unwrap(datagram)
        if isinstance(unwrapped, str):
            return None, unwrapped
        outer_src, inner, _, _ = unwrapped
        if outer_src != self.remote:
            return None, 'not_peer'
        return inner, None


def v4compat_address(v4: AnyV4) -> ipaddress.IPv6Address:
    """The IPv4-compatible address of an IPv4 address: 192.0.2.1 -> ::c000:201 (written ::192.0.2.1)."""
    return ipaddress.IPv6Address(int(_v4(v4, 'IPv4-compatible address of')))


@dataclass(frozen=True)
class V4Compat:
    """RFC 2893 automatic tunnelling to IPv4-compatible addresses (historic)."""
    local: bytes

    def target(self, inner: bytes) -> Decision:
        if len(inner) < 40 or inner[0] >> 4 != 6:
            return None, 'malformed'
        dst = inner[24:40]
        if dst[:12] != bytes(12) or dst[12:] in (bytes(4), b'\x00\x00\x00\x01'):
            return None, 'no_mapping'  # a native destination: this mechanism has no way to reach it
        if sixtofour.martian_bytes(dst[12:]):
            return None, 'martian'
        return dst[12:], None

    def accept(self, datagram: bytes) -> Decision:
        unwrapped = _unwrap(datagram)
        if isinstance(unwrapped, str):
            return None, unwrapped
        outer_src, inner, src, dst = unwrapped
        if src[:12] != bytes(12) or src[12:] != outer_src:
            return None, 'spoofed'
        if dst != bytes(12) + self.local:
            return None, 'wrong_destination'
        return inner, None


@dataclass(frozen=True)
class SixToFour:
    """RFC 3056/3068 with the RFC 3964 checks (testbed.sixtofour.addressing), as a mode."""
    local: bytes
    role: str = 'router'
    relay: bytes = sixtofour.RELAY_ANYCAST.packed
    sites: FrozenSet[bytes] = frozenset()
    relays: FrozenSet[bytes] = frozenset({sixtofour.RELAY_ANYCAST.packed})

    def target(self, inner: bytes) -> Decision:
        return sixtofour.encapsulation_target(inner, self.role, self.relay)

    def accept(self, datagram: bytes) -> Decision:
        return sixtofour.decapsulate(datagram, self.role, self.sites, self.relays)


@dataclass(frozen=True)
class SixRdDomain:
    """A 6rd domain (RFC 5969 section 7): the ISP's prefix, how many leading IPv4 bits all CEs share (IPv4MaskLen,
    left out of the delegated prefix), the common IPv4 prefix itself and the border relay's IPv4 address."""
    prefix: ipaddress.IPv6Network
    v4_common: int
    v4_prefix: ipaddress.IPv4Network
    relay: ipaddress.IPv4Address

    @property
    def delegated_length(self) -> int:
        """The CE's delegated prefix length: 6rd prefix length + the IPv4 bits it carries."""
        return self.prefix.prefixlen + 32 - self.v4_common

    def delegated_prefix(self, v4: AnyV4) -> ipaddress.IPv6Network:
        """The prefix a CE with IPv4 address ``v4`` owns (RFC 5969 section 4)."""
        address = _v4(v4, '6rd CE address')
        if address not in self.v4_prefix:
            raise TunnelConfigError(f'6rd: {address} is outside the domain\'s common IPv4 prefix {self.v4_prefix}')
        suffix = int(address) & ((1 << (32 - self.v4_common)) - 1)
        value = int(self.prefix.network_address) | (suffix << (128 - self.delegated_length))
        return ipaddress.IPv6Network((value, self.delegated_length))

    def embedded_v4(self, v6: bytes) -> Optional[bytes]:
        """The IPv4 address a 6rd address embeds (packed), or None outside the 6rd prefix."""
        value = int.from_bytes(v6, 'big')
        if value >> (128 - self.prefix.prefixlen) != int(self.prefix.network_address) >> (128 - self.prefix.prefixlen):
            return None
        bits = 32 - self.v4_common
        suffix = (value >> (128 - self.delegated_length)) & ((1 << bits) - 1)
        return (int(self.v4_prefix.network_address) | suffix).to_bytes(4, 'big')


def sixrd_domain(prefix: str, v4_common: int = 0, relay: AnyV4 = '', v4_prefix: Optional[str] = None
                 ) -> SixRdDomain:
    """A checked 6rd domain: ``prefix`` the ISP's 6rd prefix, ``v4_common`` its IPv4MaskLen (0..32),
    ``v4_prefix`` the common IPv4 prefix (required when ``v4_common`` > 0), ``relay`` the BR's IPv4 address."""
    try:
        network = ipaddress.IPv6Network(prefix)
    except ValueError:
        raise TunnelConfigError(f'6rd prefix {prefix!r} is not an IPv6 prefix (like 2001:db8::/32)') from None
    if not 0 <= v4_common <= 32:
        raise TunnelConfigError(f'6rd IPv4 mask length {v4_common} must be 0..32')
    if network.prefixlen + 32 - v4_common > 64:
        raise TunnelConfigError(f'6rd prefix {network} with {32 - v4_common} IPv4 bits makes a /'
                                f'{network.prefixlen + 32 - v4_common}: the delegated prefix must fit in 64 bits '
                                f'(a shorter 6rd prefix, or a longer IPv4 mask length)')
    if v4_common and not v4_prefix:
        raise TunnelConfigError(f'6rd IPv4 mask length {v4_common} needs the common IPv4 prefix (v4_prefix)')
    common = ipaddress.IPv4Network(v4_prefix or '0.0.0.0/0', strict=False)
    if common.prefixlen != v4_common:
        raise TunnelConfigError(f'6rd common IPv4 prefix {common} must be /{v4_common} (the IPv4 mask length)')
    return SixRdDomain(network, v4_common, common, _v4(relay, '6rd border relay'))


@dataclass(frozen=True)
class SixRd:
    """A 6rd CE (``role`` 'ce') or border relay (``role`` 'br')."""
    domain: SixRdDomain
    local: bytes
    role: str = 'ce'
    own: Optional[ipaddress.IPv6Network] = None  # the CE's delegated prefix (None on the BR)

    def target(self, inner: bytes) -> Decision:
        if len(inner) < 40 or inner[0] >> 4 != 6:
            return None, 'malformed'
        dst = inner[24:40]
        if dst[0] == 0xff or dst[:2] == b'\xfe\x80':
            return None, 'link_scope'
        embedded = self.domain.embedded_v4(dst)
        if embedded is not None:
            return embedded, None
        if self.role == 'br':
            return None, 'wrong_destination'  # the BR's tunnel only carries traffic into the 6rd domain
        return self.domain.relay.packed, None

    def accept(self, datagram: bytes) -> Decision:
        unwrapped = _unwrap(datagram)
        if isinstance(unwrapped, str):
            return None, unwrapped
        outer_src, inner, src, dst = unwrapped
        if src[:2] == b'\xfe\x80':
            return None, 'martian'
        embedded = self.domain.embedded_v4(src)
        if embedded is not None and embedded != outer_src:
            return None, 'spoofed'
        if embedded is None:
            if self.role == 'br':
                return None, 'spoofed'  # a BR serves its CEs: a source outside the domain cannot come over IPv4
            if outer_src != self.domain.relay.packed:
                return None, 'not_from_relay'
        if self.role == 'ce' and self.own is not None and ipaddress.IPv6Address(dst) not in self.own:
            return None, 'wrong_destination'
        return inner, None


def isatap_interface_id(v4: AnyV4, global_v4: Optional[bool] = None) -> int:
    """The ISATAP interface identifier of an IPv4 address (RFC 5214 section 6.1): 0:5efe:a.b.c.d, or
    200:5efe:a.b.c.d when the address is global (by default: when it is not private, RFC 1918 and similar)."""
    address = _v4(v4, 'ISATAP address of')
    if global_v4 is None:
        global_v4 = address.is_global
    head = ISATAP_IID_GLOBAL if global_v4 else ISATAP_IID
    return int.from_bytes(head + address.packed, 'big')


def isatap_address(prefix: Union[str, ipaddress.IPv6Network], v4: AnyV4) -> ipaddress.IPv6Address:
    """The ISATAP address of ``v4`` in a /64 ``prefix`` (fe80::/64 gives its link-local address)."""
    network = ipaddress.IPv6Network(prefix)
    if network.prefixlen != 64:
        raise TunnelConfigError(f'ISATAP prefix {network} must be a /64 (the interface identifier is 64 bits)')
    return network.network_address + isatap_interface_id(v4)


@dataclass(frozen=True)
class Isatap:
    """An ISATAP host (``role`` 'host': off-link traffic to its first PRL router) or router (``role`` 'router')."""
    local: bytes
    prefixes: FrozenSet[bytes]           # the ISATAP link's /64s (first 8 bytes), fe80::/64 always among them
    routers: Tuple[bytes, ...] = ()      # the potential router list (packed IPv4)
    role: str = 'host'

    def _on_link(self, v6: bytes) -> Optional[bytes]:
        if v6[:8] in self.prefixes and v6[8:12] in (ISATAP_IID, ISATAP_IID_GLOBAL):
            return v6[12:16]
        return None

    def target(self, inner: bytes) -> Decision:
        if len(inner) < 40 or inner[0] >> 4 != 6:
            return None, 'malformed'
        dst = inner[24:40]
        if dst[0] == 0xff:
            return None, 'link_scope'  # no multicast on an ISATAP link (an NBMA link)
        embedded = self._on_link(dst)
        if embedded is not None:
            return embedded, None
        if self.role == 'router' or not self.routers:
            return None, 'no_mapping'
        return self.routers[0], None

    def accept(self, datagram: bytes) -> Decision:
        unwrapped = _unwrap(datagram)
        if isinstance(unwrapped, str):
            return None, unwrapped
        outer_src, inner, src, _ = unwrapped
        embedded = self._on_link(src)
        if embedded == outer_src or (outer_src in self.routers and self.role == 'host'):
            return inner, None
        return None, 'spoofed'


Mode = Union[Manual, V4Compat, SixToFour, SixRd, Isatap]


def mode_from_config(config: Dict) -> Mode:
    """The mode an encapsulator's JSON configuration names (``mode`` plus that mode's keys), checked."""
    name = config.get('mode', '6to4')
    local = _v4(config.get('local', ''), 'tunnel local address').packed
    if name == 'manual':
        return Manual(local, _v4(config.get('remote', ''), 'manual tunnel remote end').packed)
    if name == 'v4compat':
        return V4Compat(local)
    if name == '6to4':
        return SixToFour(local, config.get('role', 'router'),
                         _v4(config.get('relay', str(sixtofour.RELAY_ANYCAST)), '6to4 relay').packed,
                         frozenset(sixtofour.site_key(v4) for v4 in config.get('sites', [config['local']])),
                         frozenset(_v4(r, '6to4 relay').packed for r in config.get('relays', [
                             config.get('relay', str(sixtofour.RELAY_ANYCAST))])))
    if name == '6rd':
        domain = sixrd_domain(config.get('prefix', ''), int(config.get('v4_common', 0)), config.get('relay', ''),
                              config.get('v4_prefix'))
        role = config.get('role', 'ce')
        own = domain.delegated_prefix(config['local']) if role == 'ce' else None
        return SixRd(domain, local, role, own)
    if name == 'isatap':
        routers = tuple(_v4(r, 'ISATAP router').packed for r in config.get('routers', []))
        role = config.get('role', 'host')
        if role == 'host' and not routers:
            raise TunnelConfigError('ISATAP host without a potential router list (routers): it could reach '
                                    'nothing off its ISATAP link (RFC 5214 section 8.3.2)')
        prefixes = {LINK_LOCAL_64}
        for prefix in config.get('prefixes', []):
            network = ipaddress.IPv6Network(prefix)
            if network.prefixlen != 64:
                raise TunnelConfigError(f'ISATAP prefix {network} must be a /64')
            prefixes.add(network.network_address.packed[:8])
        return Isatap(local, frozenset(prefixes), routers, role)
    raise TunnelConfigError(f'unknown tunnel mode {name!r} (one of {", ".join(MODES)})')



def kernel_commands(config: Dict, device: str) -> List[str]:
    """The ``ip`` commands that make the kernel's sit device behave as ``config``'s mode (checked first)."""
    mode_from_config(config)
    name, local = config.get('mode', '6to4'), config['local']
    kind = 'isatap' if name == 'isatap' else 'sit'
    remote = config['remote'] if name == 'manual' else 'any'
    commands = [f'ip tunnel add {device} mode {kind} local {local} ttl {sixtofour.TUNNEL_TTL}'
                + ('' if kind == 'isatap' else f' remote {remote}')]
    if name == '6rd':
        relay_prefix = config.get('v4_prefix') or '0.0.0.0/0'
        commands.append(f'ip tunnel 6rd dev {device} 6rd-prefix {config["prefix"]} 6rd-relay_prefix {relay_prefix}')
    if name == 'isatap':
        commands += [f'ip tunnel prl prl-default {router} dev {device}' for router in config.get('routers', [])]
    commands.append(f'ip link set {device} mtu {sixtofour.TUNNEL_MTU} up')
    return commands
