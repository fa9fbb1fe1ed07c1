"""The textbook arithmetic every comparison uses, each formula once (pure).

Bytes on an Ethernet link: a frame is its IP packet plus the 14-byte Ethernet header (the preamble, FCS and gap are
not counted: they are not shaped by tc or the delay line either). A full TCP segment with Linux's default
timestamps carries MSS = MTU - IP header - 20 - 12 bytes. The lecture's packet delay is transmission + propagation,
L/R + d; the pipe holds the bandwidth-delay product R x RTT.
"""
import math

from testbed.sixtofour.addressing import TUNNEL_MTU

ETHERNET_MTU = 1500
IPV6_MINIMUM_MTU = 1280                  # every IPv6 link carries this much (RFC 8200 section 5)
ETHERNET_HEADER = 14
IPV4_HEADER, IPV6_HEADER = 20, 40
TCP_HEADER, TCP_TIMESTAMPS = 20, 12      # timestamps: on by default in Linux
UDP_HEADER, ICMP_HEADER = 8, 8
PING_PAYLOAD = 56                        # ping's default -s
UDP_FRAME_HEADERS = ETHERNET_HEADER + IPV4_HEADER + UDP_HEADER  # 42 bytes around a UDP payload on the wire


def tcp_mss(mtu: int = ETHERNET_MTU, ip_header: int = IPV4_HEADER) -> int:
    """Payload bytes of a full TCP segment (with timestamps) on a link of ``mtu``: 1448 for IPv4 on Ethernet."""
    return mtu - ip_header - TCP_HEADER - TCP_TIMESTAMPS


def full_frame(mtu: int = ETHERNET_MTU) -> int:
    """Bytes on the wire for a full-size packet: 1514 on Ethernet."""
    return mtu + ETHERNET_HEADER


def tcp_ack_frame(ip_header: int = IPV4_HEADER) -> int:
    """Bytes on the wire for a bare TCP ACK with timestamps: 66 for IPv4."""
    return ETHERNET_HEADER + ip_header + TCP_HEADER + TCP_TIMESTAMPS


def tcp_efficiency(mtu: int = ETHERNET_MTU, ip_header: int = IPV4_HEADER) -> float:
    """Share of a link's rate that TCP delivers as payload with full frames: 1448 / 1514 = 0.956 over IPv4."""
    return tcp_mss(mtu, ip_header) / full_frame(mtu)


def tcp_goodput(rate: float, mtu: int = ETHERNET_MTU, ip_header: int = IPV4_HEADER) -> float:
    """TCP goodput on a link of ``rate`` (any unit; the same unit back): IPv4 unless ``ip_header`` says otherwise."""
    return rate * tcp_efficiency(mtu, ip_header)


def sixtofour_goodput_ratio(mtu: int = ETHERNET_MTU, tunnel_mtu: int = TUNNEL_MTU) -> tuple:
    """(ratio, 6to4 MSS, IPv4 MSS): TCP goodput through a 6to4 tunnel over that of IPv4 on the same link.

    The frames on the wire have the same size; inside, 6to4 spends 20 bytes more (the outer IPv4 header that makes
    the tunnel MTU 1480, then the 40-byte IPv6 header): MSS 1408 against 1448, a ratio of 0.972 (0.986 against
    native IPv6's 1428)."""
    sixtofour, ipv4 = tcp_mss(tunnel_mtu, IPV6_HEADER), tcp_mss(mtu)
    return sixtofour / ipv4, sixtofour, ipv4


def ping_frame(payload: int = PING_PAYLOAD) -> int:
    """Bytes on the wire for one IPv4 ping of ``payload`` bytes: 98 for ping's default 56."""
    return ETHERNET_HEADER + IPV4_HEADER + ICMP_HEADER + payload


def udp_frames(size: int, mtu: int = ETHERNET_MTU) -> list:
    """Frame lengths (bytes on the wire) of one UDP datagram of ``size`` payload bytes, in sending order: the UDP
    header, then IPv4 fragments of at most MTU - 20 data bytes, each with its IPv4 and Ethernet headers."""
    payload, per_fragment = size + UDP_HEADER, mtu - IPV4_HEADER
    count = math.ceil(payload / per_fragment)
    return [min(per_fragment, payload - index * per_fragment) + IPV4_HEADER + ETHERNET_HEADER
            for index in range(count)]


def transmission_s(frame_bytes: float, rate_bps: float) -> float:
    """L / R: how long ``frame_bytes`` take to be put on a link of ``rate_bps``."""
    return frame_bytes * 8 / rate_bps


def packet_delay_s(frame_bytes: float, rate_bps: float, delay_s: float) -> float:
    """The lecture's packet delay, L/R + d: transmission plus propagation."""
    return transmission_s(frame_bytes, rate_bps) + delay_s


def bdp_bytes(rate_bps: float, delay_s: float) -> float:
    """The bandwidth-delay product: the bytes a link holds in flight over ``delay_s`` (the lecture's: the one-way
    propagation delay; what TCP must have in flight: a round trip)."""
    return rate_bps * delay_s / 8


def uniform_jitter_rtt_stdev(jitter: float, ways: int = 2) -> float:
    """Standard deviation of an RTT whose every way adds an independent uniform draw in +-``jitter`` (netem's jitter
    without a distribution table or correlation): jitter / sqrt(3) per way, added in quadrature."""
    return jitter / math.sqrt(3) * math.sqrt(ways)


def median_standard_error(stdev: float, count: int) -> float:
    """How far the median of ``count`` samples typically falls from the distribution's own (one standard error,
    normal approximation): sqrt(pi / 2) * stdev / sqrt(count)."""
    return math.sqrt(math.pi / 2) * stdev / math.sqrt(count)
