"""The userspace 6to4 encapsulator's receive offload: which packets merge, and what a merged packet holds."""
import ipaddress
import struct

from testbed.sixtofour.coalesce import GSO_TCPV6, NEEDS_CSUM, PLAIN, VNET_HEADER, VNET_HEADER_LEN, coalesce

SRC = ipaddress.IPv6Address('2002:c000:201::10').packed
DST = ipaddress.IPv6Address('2002:c000:202::10').packed
ACK, PSH, SYN = 0x10, 0x08, 0x02
OPTIONS = bytes([1, 1, 8, 10]) + bytes(8)  # NOP NOP timestamps


def segment(seq, data, flags=ACK, sport=40000, ack=7, options=OPTIONS, hop_limit=63, next_header=6):
    tcp = struct.pack('!HHIIBBHHH', sport, 5201, seq, ack, (5 + len(options) // 4) << 4, flags, 500, 0xabcd, 0)
    payload = tcp + options + data
    return struct.pack('!IHBB', 6 << 28, len(payload), next_header, hop_limit) + SRC + DST + payload


def unpack(frame):
    return VNET_HEADER.unpack(frame[:VNET_HEADER_LEN]), frame[VNET_HEADER_LEN:]


def test_back_to_back_segments_of_one_flow_become_one_gso_packet():
    packets = [segment(1000 + i * 100, bytes([i]) * 100) for i in range(3)] + [segment(1300, b'z' * 40, ACK | PSH)]
    [(frame, count)] = coalesce(packets)
    (flags, gso_type, hdr_len, gso_size, csum_start, csum_offset), packet = unpack(frame)
    assert count == 4
    assert (flags, gso_type, hdr_len, gso_size, csum_start, csum_offset) == (NEEDS_CSUM, GSO_TCPV6, 72, 100, 40, 16)
    assert int.from_bytes(packet[4:6], 'big') == len(packet) - 40 == 32 + 340
    assert packet[44:48] == (1000).to_bytes(4, 'big') and packet[53] == ACK | PSH
    assert packet[72:] == b'\x00' * 100 + b'\x01' * 100 + b'\x02' * 100 + b'z' * 40
    assert packet[60:72] == OPTIONS


def test_pseudo_header_sum_is_the_folded_word_sum():
    [(frame, _)] = coalesce([segment(1, b'a' * 8), segment(9, b'b' * 8)])
    packet = frame[VNET_HEADER_LEN:]
    words = packet[8:40] + (len(packet) - 40).to_bytes(4, 'big') + b'\x00\x00\x00\x06'
    total = sum(int.from_bytes(words[i:i + 2], 'big') for i in range(0, len(words), 2))
    while total > 0xffff:
        total = (total & 0xffff) + (total >> 16)
    assert int.from_bytes(packet[56:58], 'big') == total


def test_what_must_not_merge_is_written_alone_and_in_order():
    packets = [
        segment(1, b'a' * 10),
        segment(11, b'b' * 10, sport=40001),      # another flow
        segment(30, b'c' * 10),                   # a gap in the sequence
        segment(40, b'd' * 10, flags=ACK | SYN),  # flags other than ACK/PSH
        segment(50, b''),                         # a pure ACK
        segment(60, b'e' * 10, next_header=17),   # not TCP
        segment(70, b'f' * 10, hop_limit=9),      # a header field differs from the next one's
        segment(80, b'g' * 10),
    ]
    frames = coalesce(packets)
    assert [count for _, count in frames] == [1] * len(packets)
    assert [frame for frame, _ in frames] == [PLAIN + packet for packet in packets]


def test_a_short_or_pushed_segment_ends_the_run():
    packets = [segment(0, b'a' * 10), segment(10, b'b' * 5), segment(15, b'c' * 10),
               segment(25, b'd' * 10, ACK | PSH), segment(35, b'e' * 10)]
    assert [count for _, count in coalesce(packets)] == [2, 2, 1]


def test_a_merged_packet_never_exceeds_the_ipv6_payload_limit():
    packets = [segment(i * 1400, b'x' * 1400) for i in range(60)]
    frames = coalesce(packets)
    assert sum(count for _, count in frames) == 60 and len(frames) == 2
    assert all(len(frame) - VNET_HEADER_LEN - 40 <= 65535 for frame, _ in frames)


def test_malformed_packets_pass_through_untouched():
    runt, lying = b'\x60' + bytes(30), segment(1, b'a' * 10)[:-3]  # too short; payload length says 3 more bytes
    assert coalesce([runt, lying]) == [(PLAIN + runt, 1), (PLAIN + lying, 1)]
