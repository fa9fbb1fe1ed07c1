"""IPv4-embedded IPv6 addresses (RFC 6052), the arithmetic of NAT64 (RFC 6146), DNS64 (RFC 6147) and 464XLAT
(RFC 6877), as pure functions.

A NAT64 prefix is the well-known ``64:ff9b::/96`` or a network-specific prefix of length 32, 40, 48, 56, 64 or
96. The IPv4 address fills the 32 bits after the prefix, skipping bits 64-71 (the "u" octet, always zero), and
the suffix after it is zero (RFC 6052 section 2.2). DNS64 synthesises an AAAA record from an A record this way;
the translator maps the IPv6 destination back to the IPv4 address.
"""
import ipaddress
from typing import Tuple, Union

from testbed.errors import TestbedError

WELL_KNOWN_PREFIX = ipaddress.IPv6Network('64:ff9b::/96')   # RFC 6052 section 2.1
PREFIX_LENGTHS = (32, 40, 48, 56, 64, 96)
HEADER_GROWTH = 20   # translating IPv4 to IPv6 replaces a 20-byte header with a 40-byte one (RFC 7915)
AnyV4 = Union[str, ipaddress.IPv4Address]
AnyV6 = Union[str, ipaddress.IPv6Address]


class Nat64PrefixError(TestbedError):
    """A NAT64 prefix or address that RFC 6052 does not allow (the message says why)."""


def nat64_prefix(prefix: Union[str, ipaddress.IPv6Network]) -> ipaddress.IPv6Network:
    """A checked NAT64 prefix: one of RFC 6052's lengths, and bits 64-71 zero."""
    try:
        network = ipaddress.IPv6Network(prefix)
    except ValueError:
        raise Nat64PrefixError(f'NAT64 prefix {prefix!r} is not an IPv6 prefix (like 64:ff9b::/96)') from None
    if network.prefixlen not in PREFIX_LENGTHS:
        raise Nat64PrefixError(f'NAT64 prefix {network}: RFC 6052 allows /32, /40, /48, /56, /64 or /96, '
                               f'not /{network.prefixlen}')
    if (int(network.network_address) >> 56) & 0xff:
        raise Nat64PrefixError(f'NAT64 prefix {network}: bits 64-71 must be zero (RFC 6052 section 2.2)')
    return network


def _octets(network: ipaddress.IPv6Network):
    """Byte positions (0..15) that hold the IPv4 address's four octets under this prefix."""
    positions = [index for index in range(network.prefixlen // 8, 16) if index != 8]
    return positions[:4]


def synthesize(prefix: Union[str, ipaddress.IPv6Network], v4: AnyV4) -> ipaddress.IPv6Address:
    """The IPv4-embedded IPv6 address: synthesize('64:ff9b::/96', '192.0.2.33') -> 64:ff9b::c000:221."""
    network = nat64_prefix(prefix)
    packed = bytearray(network.network_address.packed)
    for position, octet in zip(_octets(network), ipaddress.IPv4Address(str(v4)).packed):
        packed[position] = octet
    return ipaddress.IPv6Address(bytes(packed))


def extract(prefix: Union[str, ipaddress.IPv6Network], v6: AnyV6) -> ipaddress.IPv4Address:
    """The IPv4 address inside an IPv4-embedded IPv6 address (the translator's direction)."""
    network = nat64_prefix(prefix)
    address = ipaddress.IPv6Address(str(v6))
    if address not in network:
        raise Nat64PrefixError(f'{address} is not inside the NAT64 prefix {network}')
    packed = address.packed
    return ipaddress.IPv4Address(bytes(packed[position] for position in _octets(network)))


def clat_ipv4_mtu(ipv6_mtu: int) -> int:
    """The IPv4 MTU of a CLAT's interface, so that every packet it translates still fits the host's IPv6 link:
    1480 on Ethernet, the same room a tunnel leaves."""
    return ipv6_mtu - HEADER_GROWTH


def tayga_config(device: str, ipv4_addr: str, prefix: str, data_dir: str, ipv6_addr: str = '',
                 dynamic_pool: str = '', maps: Tuple[Tuple[str, str], ...] = ()) -> str:
    """Tayga's configuration: ``dynamic_pool`` makes it a NAT64 (each IPv6 client gets a pool address, which the
    node then masquerades: state per flow), ``maps`` static 1:1 pairs (a 464XLAT CLAT, stateless)."""
    network = nat64_prefix(prefix)
    lines = [f'tun-device {device}', f'ipv4-addr {ipv4_addr}', f'prefix {network}', f'data-dir {data_dir}']
    if ipv6_addr:
        lines.append(f'ipv6-addr {ipv6_addr}')
    if dynamic_pool:
        lines.append(f'dynamic-pool {ipaddress.IPv4Network(dynamic_pool)}')
    lines += [f'map {ipaddress.IPv4Address(v4)} {ipaddress.IPv6Address(v6)}' for v4, v6 in maps]
    return '\n'.join(lines) + '\n'


def unbound_dns64_config(listen: str, prefix: str, zone: str, authoritative: str, directory: str) -> str:
    """A DNS64 resolver (unbound's dns64 module, RFC 6147) on ``listen`` that resolves ``zone`` at the IPv4-only
    server ``authoritative`` and synthesises AAAA records under ``prefix`` for names that have only A records."""
    network = nat64_prefix(prefix)
    return '\n'.join([
        'server:',
        f'    interface: {listen}', '    port: 53', '    do-daemonize: no', '    chroot: ""', '    username: ""',
        f'    directory: "{directory}"', f'    pidfile: "{directory}/unbound.pid"', '    use-syslog: no',
        '    logfile: ""', '    verbosity: 0', '    access-control: ::/0 allow', '    access-control: 0.0.0.0/0 allow',
        '    module-config: "dns64 iterator"', f'    dns64-prefix: {network}', '    do-not-query-localhost: no',
        f'    domain-insecure: "{zone}"', f'    local-zone: "{zone.split(".")[-1]}." nodefault',
        '    cache-max-ttl: 0', '    cache-max-negative-ttl: 0',
        'stub-zone:', f'    name: "{zone}"', f'    stub-addr: {authoritative}', ''])


def pool_sessions(conntrack: str, pool: str) -> int:
    """How many connection-tracking entries (the text of /proc/net/nf_conntrack) a NAT64 keeps for flows from its
    dynamic ``pool``: the per-flow state of a Tayga NAT64 behind a masquerade."""
    network = ipaddress.IPv4Network(pool)
    count = 0
    for line in conntrack.splitlines():
        source = next((field[4:] for field in line.split() if field.startswith('src=')), '')
        count += '.' in source and ipaddress.IPv4Address(source) in network  # the flow's original source
    return count
