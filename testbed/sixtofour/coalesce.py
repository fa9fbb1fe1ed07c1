"""Receive offload for the userspace 6to4 encapsulator: consecutive TCP segments merged into one GSO packet.

The kernel's sit device hands decapsulated packets to GRO, which merges a flow's back-to-back segments before the
TCP stack sees them. A TUN device written one segment at a time gets none of that, and the receiving stack then
spends its time per segment (and acknowledges more often). This module does what GRO does, for IPv6 TCP only,
on the packets one read batch delivered: segments of one flow that follow each other in sequence, with equal
headers apart from the sequence number, become one packet with a ``virtio_net_hdr`` (``IFF_VNET_HDR``) that tells
the kernel their segment size; the kernel keeps it as a GSO packet, and splits it again only if it must forward
it over a link. Everything else is written as it came, behind an empty header.

Pure logic: ``coalesce(packets)`` returns the frames to write, each with how many packets it carries.
"""
import struct
from typing import List, Tuple

VNET_HEADER = struct.Struct('=BBHHHH')  # flags, gso_type, hdr_len, gso_size, csum_start, csum_offset (host order)
VNET_HEADER_LEN = VNET_HEADER.size
PLAIN = bytes(VNET_HEADER_LEN)          # no offload: the kernel checks the packet as it would any other
NEEDS_CSUM, GSO_TCPV6 = 1, 4
IPV6_HEADER_LEN = 40
TCP_CHECKSUM_OFFSET = 16
NEXT_HEADER_TCP = 6
FLAG_PSH, FLAG_ACK = 0x08, 0x10
MAX_IPV6_PAYLOAD = 65535


def _mergeable(packet):
    """(key, sequence number, TCP header length, payload length, PSH) of a TCP data segment with only ACK (and
    PSH) set, or None. Packets with equal keys differ in nothing but sequence number, payload and checksum."""
    if len(packet) < IPV6_HEADER_LEN + 20 or packet[6] != NEXT_HEADER_TCP or packet[0] >> 4 != 6:
        return None
    if int.from_bytes(packet[4:6], 'big') + IPV6_HEADER_LEN != len(packet):
        return None
    tcp_len = (packet[52] >> 4) * 4
    flags = packet[53]
    data_len = len(packet) - IPV6_HEADER_LEN - tcp_len
    if tcp_len < 20 or data_len <= 0 or packet[52] & 0x0f or flags & ~(FLAG_ACK | FLAG_PSH) or not flags & FLAG_ACK:
        return None
    # version/class/flow label, hop limit, addresses, ports, acknowledgment, header length/flags/window, options
    key = (packet[0:4] + packet[7:44] + packet[48:53] + packet[54:56] + packet[58:60]
           + packet[60:IPV6_HEADER_LEN + tcp_len])
    return key, int.from_bytes(packet[44:48], 'big'), tcp_len, data_len, bool(flags & FLAG_PSH)


def _pseudo_header_sum(packet, tcp_length):
    """The folded one's-complement sum of the IPv6 pseudo-header (RFC 8200 8.1), as a partial checksum holds it."""
    total = int.from_bytes(packet[8:40] + tcp_length.to_bytes(4, 'big') + bytes(3) + bytes([NEXT_HEADER_TCP]),
                           'big') % 0xffff  # 2**16 = 1 (mod 0xffff): the sum of the 16-bit words, folded
    return total or 0xffff


def _merge(run):
    """One GSO frame from a run of segments [(packet, info), ...] that follow each other."""
    first, (_, _, tcp_len, segment_size, _) = run[0]
    header_end = IPV6_HEADER_LEN + tcp_len
    data = b''.join(packet[IPV6_HEADER_LEN + info[2]:] for packet, info in run)
    tcp_length = tcp_len + len(data)
    flags = first[53] | (FLAG_PSH if run[-1][1][4] else 0)
    header = (first[0:4] + tcp_length.to_bytes(2, 'big') + first[6:53] + bytes([flags]) + first[54:56]
              + _pseudo_header_sum(first, tcp_length).to_bytes(2, 'big') + first[58:header_end])
    vnet = VNET_HEADER.pack(NEEDS_CSUM, GSO_TCPV6, header_end, segment_size, IPV6_HEADER_LEN, TCP_CHECKSUM_OFFSET)
    return vnet + header + data


def coalesce(packets: List[bytes]) -> List[Tuple[bytes, int]]:
    """Frames to write to an ``IFF_VNET_HDR`` TUN device for these IPv6 packets, in order: [(frame, count), ...].

    A run grows while the next packet is the same flow's next segment (same key, sequence number right after the
    run's end), the run's last segment was full size (the first one's) and carried no PSH, and the merged payload
    fits an IPv6 packet: the rules Linux's GRO applies to TCP."""
    frames = []
    run: list = []
    next_sequence = run_bytes = 0
    for packet in packets:
        info = _mergeable(packet)
        if run and info is not None:
            key, sequence, tcp_len, data_len, _ = info
            first_key, _, _, segment_size, _ = run[0][1]
            last = run[-1][1]
            if (key == first_key and sequence == next_sequence and last[3] == segment_size and not last[4]
                    and data_len <= segment_size and tcp_len + run_bytes + data_len <= MAX_IPV6_PAYLOAD):
                run.append((packet, info))
                next_sequence = (sequence + data_len) & 0xffffffff
                run_bytes += data_len
                continue
        if run:
            frames.append(_flush(run))
            run = []
        if info is None:
            frames.append((PLAIN + packet, 1))
        else:
            run = [(packet, info)]
            next_sequence = (info[1] + info[3]) & 0xffffffff
            run_bytes = info[3]
    if run:
        frames.append(_flush(run))
    return frames


def _flush(run):
    if len(run) == 1:
        return PLAIN + run[0][0], 1
    return _merge(run), len(run)
