"""A one-way UDP probe: sequence-numbered, timestamped datagrams, counted at the receiver.

Measures one-way loss, duplicates, reordering and one-way delay without a control channel (iperf3's TCP control
connection can time out on a lossy link). The network namespaces of one machine share CLOCK_MONOTONIC, so the
receiver computes each datagram's one-way delay from the sender's timestamp.

    python -m testbed.measure.udpprobe recv PORT [--idle S] [--timeout S]      # prints "ready", then a JSON summary
    python -m testbed.measure.udpprobe send HOST PORT COUNT [--rate PPS] [--size BYTES]
"""
import argparse
import json
import socket
import statistics
import struct
import sys
import time

HEADER = struct.Struct('!QQQ')  # sequence number, send time (ns, CLOCK_MONOTONIC), datagrams in the test
MAGIC_END = 2 ** 64 - 1


def send(host, port, count, rate=5000.0, size=64):
    """Send ``count`` datagrams paced at ``rate`` per second; then a few end markers."""
    sock = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_DGRAM)
    padding = bytes(max(0, size - HEADER.size))
    interval = 1.0 / rate
    start = time.monotonic()
    for seq in range(count):
        due = start + seq * interval
        ahead = due - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
        sock.sendto(HEADER.pack(seq, time.monotonic_ns(), count) + padding, (host, port))
    for _ in range(10):  # end markers let the receiver stop at once; without them it stops after ``idle``
        sock.sendto(HEADER.pack(MAGIC_END, 0, count), (host, port))
        time.sleep(0.01)


def receiver_socket(port):
    """A UDP socket on ``port`` for IPv4 and IPv6 senders, with a deep buffer and a 0.2 s timeout for polling."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind(('::', port))
    sock.settimeout(0.2)
    return sock


def receive(port, idle=2.0, timeout=120.0, ready=lambda: None):
    """Count datagrams until an end marker arrives and ``idle`` s pass, or ``idle`` s pass without any datagram
    after the first one (every end marker may be lost on a lossy link), or ``timeout``. Every datagram carries the
    number the sender sends, so losses at the end are counted too."""
    sock = receiver_socket(port)
    ready()
    seen, delays = set(), []
    duplicates, reordered, highest = 0, 0, -1
    sent, ended = None, False
    started = last = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            data = sock.recv(65535)
        except socket.timeout:
            quiet = time.monotonic() - last
            if (ended and quiet > 0.2) or (sent is not None and quiet > idle):
                break
            continue
        now = time.monotonic_ns()
        if len(data) < HEADER.size:
            continue
        seq, stamp, total = HEADER.unpack_from(data)
        sent = total
        if seq == MAGIC_END:
            ended = True
            last = time.monotonic()
            continue
        last = time.monotonic()
        if seq in seen:
            duplicates += 1
            continue
        if seq < highest:
            reordered += 1
        highest = max(highest, seq)
        seen.add(seq)
        delays.append((now - stamp) / 1e6)
    received = len(seen)
    sent = sent if sent is not None else (highest + 1 if highest >= 0 else 0)
    return {
        'sent': sent, 'received': received, 'lost': sent - received,
        'loss_percent': 100.0 * (sent - received) / sent if sent else 0.0,
        'duplicates': duplicates, 'reordered': reordered,
        'delay_ms': {'min': min(delays), 'median': statistics.median(delays), 'max': max(delays)} if delays else {},
        'end_marker': ended,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m testbed.measure.udpprobe')
    sub = parser.add_subparsers(dest='mode', required=True)
    recv = sub.add_parser('recv')
    recv.add_argument('port', type=int)
    recv.add_argument('--idle', type=float, default=2.0)
    recv.add_argument('--timeout', type=float, default=120.0)
    snd = sub.add_parser('send')
    snd.add_argument('host')
    snd.add_argument('port', type=int)
    snd.add_argument('count', type=int)
    snd.add_argument('--rate', type=float, default=5000.0)
    snd.add_argument('--size', type=int, default=64)
    args = parser.parse_args(argv)
    if args.mode == 'recv':
        summary = receive(args.port, args.idle, args.timeout, ready=lambda: print('ready', flush=True))
        print(json.dumps(summary), flush=True)
    else:
        send(args.host, args.port, args.count, args.rate, args.size)
    return 0


if __name__ == '__main__':
    sys.exit(main())
