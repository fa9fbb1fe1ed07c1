"""Send crafted protocol-41 datagrams at a 6to4 router: spoofing attempts (RFC 3964) and fuzzed packets.

Run inside a node on the IPv4 core (the tests and the demo use site 2's router): ``python -m testbed.sixtofour.spoof
--source 198.51.100.1 --target 192.0.2.1 --victim 2002:c000:201:1::10 KIND COUNT`` where KIND is

- ``spoofed``: the inner 6to4 source embeds an IPv4 address other than the outer source;
- ``native``: a native IPv6 source from an address that is not a relay;
- ``martian``: the inner source embeds a private IPv4 address (the forged outer source, so only that check fails);
- ``fuzz``: a seeded mix of the above, truncated and mangled IPv6 headers and random bytes (the outer IPv4 header
  stays valid, or the kernel would drop it before the encapsulator sees it).

Packets are built with scapy, sent through a raw socket (``IP_HDRINCL``) at ``--rate`` packets per second, and
the count sent is printed as JSON.
"""
import argparse
import ipaddress
import json
import random
import socket
import sys
import time

from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6, ICMPv6EchoRequest, UDP

KINDS = ('spoofed', 'native', 'martian', 'fuzz')


def _templates(source, target, victim):
    """The datagrams the fuzzer mutates, built once with scapy (building 100,000 with scapy takes a minute)."""
    outer = IP(src=source, dst=target, proto=41, ttl=64)
    stranger = str(ipaddress.IPv6Address((int(ipaddress.IPv6Address(victim)) & ~0xffff) | 0xee))  # victim's subnet
    echo = ICMPv6EchoRequest(id=0x5b0f)
    return {
        'spoofed': bytes(outer / IPv6(src='2002:cb00:71ff::1', dst=victim) / echo),
        'native': bytes(outer / IPv6(src='2001:db8:bad::1', dst=victim) / echo),
        # a private outer source with the 6to4 source that embeds it: only the martian check fails
        'martian': bytes(IP(src='192.168.1.1', dst=target, proto=41, ttl=64)
                         / IPv6(src='2002:c0a8:101::1', dst=victim) / echo),
        'header': bytes(outer)[:20],
        'inner': bytes(IPv6(src='2002:c633:6401:1::10', dst=victim) / UDP(dport=9)),
        'stranger': bytes(IPv6(src='2002:c633:6401:1::10', dst=stranger) / UDP(dport=9)),
    }


_CACHE = {}


def crafted(kind, source, target, victim, rng):
    """One datagram (bytes) of ``kind`` from ``source`` to ``target``; the inner destination is ``victim``."""
    key = (source, target, victim)
    if key not in _CACHE:
        _CACHE[key] = _templates(source, target, victim)
    templates = _CACHE[key]
    if kind != 'fuzz':
        return templates[kind]
    choice = rng.randrange(8)
    if choice < 3:
        return templates[KINDS[choice]]
    if choice == 3:    # random bytes of random length
        payload = rng.randbytes(rng.randrange(0, 1400))
    elif choice == 4:  # a truncated IPv6 header
        payload = templates['inner'][:rng.randrange(0, 40)]
    elif choice == 5:  # a lying payload length
        inner = bytearray(templates['inner'] + rng.randbytes(32))
        inner[4:6] = rng.randrange(0, 65536).to_bytes(2, 'big')
        payload = bytes(inner)
    elif choice == 6:  # IPv6 with a random version nibble
        inner = bytearray(templates['inner'] + rng.randbytes(16))
        inner[0] = (rng.randrange(16) << 4) | (inner[0] & 0x0f)
        payload = bytes(inner)
    else:              # a valid packet for a host that does not exist in the site: delivered, then routed
        tail = rng.randbytes(rng.randrange(0, 200))
        inner = bytearray(templates['stranger'] + tail)
        inner[4:6] = (len(inner) - 40).to_bytes(2, 'big')     # IPv6 payload length
        inner[44:46] = (len(inner) - 40).to_bytes(2, 'big')   # UDP length (checksum left stale: dropped by b)
        inner[7] = rng.randrange(1, 255)                      # hop limit
        payload = bytes(inner)
    header = templates['header']
    return header[:2] + (20 + len(payload)).to_bytes(2, 'big') + header[4:] + payload


def send(kind, count, source, target, victim, rate=20000, seed=1):
    """Send ``count`` datagrams; return how many the kernel accepted."""
    rng = random.Random(seed)
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sent = 0
    start = time.monotonic()
    for index in range(count):
        try:
            sock.sendto(crafted(kind, source, target, victim, rng), (target, 0))
            sent += 1
        except OSError:
            pass
        if rate and index % 100 == 99:
            ahead = start + (index + 1) / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    return sent


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m testbed.sixtofour.spoof')
    parser.add_argument('kind', choices=KINDS)
    parser.add_argument('count', type=int)
    parser.add_argument('--source', required=True)
    parser.add_argument('--target', required=True)
    parser.add_argument('--victim', required=True)
    parser.add_argument('--rate', type=float, default=20000)
    parser.add_argument('--seed', type=int, default=1)
    args = parser.parse_args(argv)
    if not 0 < args.count <= 1_000_000:
        parser.error('count must be between 1 and 1,000,000 (load tests are bounded)')
    sent = send(args.kind, args.count, args.source, args.target, args.victim, args.rate, args.seed)
    print(json.dumps({'kind': args.kind, 'sent': sent}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
