"""On/off UDP sources and their sink, for the statistical-multiplexing experiment.

A source follows a slot pattern ('1' = on): in an on slot it sends frames of FRAME bytes on the wire, paced at
its peak rate; off slots are silent. All sources share a start time on CLOCK_MONOTONIC (the namespaces of one
machine share it), so their slots line up and the sink can put every datagram in the slot it was sent in.

    python -m testbed.measure.onoff sink PORT --sources N --timeout S     # prints "ready", then a JSON record
    python -m testbed.measure.onoff source HOST PORT ID PATTERN --peak BPS --slot S --start T
"""
import argparse
import json
import socket
import struct
import sys
import time

from testbed.measure.theory import UDP_FRAME_HEADERS
from testbed.measure.udpprobe import receiver_socket

HEADER = struct.Struct('!HHIIQ')   # source id, flags, sequence, datagrams this source sends, send time (ns)
FLAG_END = 1
FRAME = 1000                       # bytes on the wire per datagram: Ethernet 14 + IPv4 20 + UDP 8 + payload
PAYLOAD = FRAME - UDP_FRAME_HEADERS


def frames_per_slot(peak_bps, slot_s):
    return max(1, round(peak_bps * slot_s / (FRAME * 8)))


def send(host, port, source, pattern, peak_bps, slot_s, start):
    """Send ``pattern`` (one char per slot); returns the number of datagrams sent."""
    sock = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_DGRAM)
    per_slot = frames_per_slot(peak_bps, slot_s)
    gap = slot_s / per_slot
    total = pattern.count('1') * per_slot
    padding = bytes(PAYLOAD - HEADER.size)
    seq = 0
    for slot, state in enumerate(pattern):
        if state != '1':
            continue
        for index in range(per_slot):
            due = start + slot * slot_s + (index + 0.5) * gap
            ahead = due - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
            try:
                sock.sendto(HEADER.pack(source, 0, seq, total, time.monotonic_ns()) + padding, (host, port))
            except OSError:
                pass  # a full local queue is a loss like any other; the sink counts it
            seq += 1
    for _ in range(5):
        sock.sendto(HEADER.pack(source, FLAG_END, seq, total, time.monotonic_ns()), (host, port))
        time.sleep(0.01)
    return seq


def receive(port, sources, timeout, ready=lambda: None, idle=1.5):
    """Record every datagram until each source's end marker arrived (or ``idle`` s of silence after the first
    datagram, or ``timeout``). Returns {'packets': [[source, seq, sent_ns, received_ns], ...], 'totals': {...}}."""
    sock = receiver_socket(port)
    ready()
    packets, totals, ended, malformed = [], {}, set(), 0
    started = last = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            data = sock.recv(65535)
        except socket.timeout:
            if totals and (len(ended) >= sources or time.monotonic() - last > idle):
                break
            continue
        now = time.monotonic_ns()
        if len(data) < HEADER.size:
            malformed += 1
            continue
        source, flags, seq, total, sent = HEADER.unpack_from(data)
        totals[source] = total
        last = time.monotonic()
        if flags & FLAG_END:
            ended.add(source)
            continue
        packets.append([source, seq, sent, now])
    return {'packets': packets, 'totals': {str(k): v for k, v in totals.items()}, 'ended': len(ended),
            'malformed': malformed}


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m testbed.measure.onoff')
    sub = parser.add_subparsers(dest='mode', required=True)
    sink = sub.add_parser('sink')
    sink.add_argument('port', type=int)
    sink.add_argument('--sources', type=int, required=True)
    sink.add_argument('--timeout', type=float, default=120.0)
    source = sub.add_parser('source')
    source.add_argument('host')
    source.add_argument('port', type=int)
    source.add_argument('id', type=int)
    source.add_argument('pattern')
    source.add_argument('--peak', type=float, required=True, help='bits/s on the wire while on')
    source.add_argument('--slot', type=float, required=True, help='slot length (s)')
    source.add_argument('--start', type=float, required=True, help='CLOCK_MONOTONIC time of slot 0 (s)')
    args = parser.parse_args(argv)
    if args.mode == 'sink':
        record = receive(args.port, args.sources, args.timeout, ready=lambda: print('ready', flush=True))
        print(json.dumps(record), flush=True)
    else:
        if set(args.pattern) - {'0', '1'}:
            parser.error('PATTERN is a string of 0 and 1')
        send(args.host, args.port, args.id, args.pattern, args.peak, args.slot, args.start)
    return 0


if __name__ == '__main__':
    sys.exit(main())
