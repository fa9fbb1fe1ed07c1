"""The userspace 6over4 interface (RFC 2529; Linux has none): a TAP device on one side, IPv4 on the other.

The TAP device (``tun6over4``, MTU 1480) has the link-layer address RFC 2529 gives the interface, so the kernel
runs neighbour discovery over it as over Ethernet, and this program carries its frames in protocol 41
(``testbed.transition.sixover4``): multicast ones to the IPv4 group 239.192.X.Y (TTL 8), unicast ones to the IPv4
address in the destination's link-layer address. It joins the IPv4 groups of the IPv6 groups the kernel joined on
the TAP device (read from /proc/net/igmp6 every second), and turns arriving datagrams back into frames. Every
packet is counted once (delivered or dropped with its reason), like the encapsulator's counters.

Run as ``python -m testbed.transition.sixover4d CONFIG_JSON``; prints ``ready`` once the device is up.
"""
import fcntl
import ipaddress
import os
import select
import socket
import struct
import subprocess
import sys
import time

from testbed.errors import TestbedError
from testbed.sixtofour.addressing import PROTO_IPV6_IN_IPV4, TUNNEL_MTU, TUNNEL_TTL, split_datagram
from testbed.system.daemon import LoopSignals, die_with_parent, write_json
from testbed.system.daemon import main as daemon_main
from testbed.transition.sixover4 import DEVICE, MULTICAST_TTL, link_address, to_frame, to_ipv4

TUNSETIFF = 0x400454ca
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000
RECV_SIZE = 65535
REFRESH_S = 0.25


def open_tap(name, mac, mtu):
    fd = os.open('/dev/net/tun', os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', name.encode(), IFF_TAP | IFF_NO_PI))
    for args in (['link', 'set', 'dev', name, 'addrgenmode', 'none'],
                 ['link', 'set', 'dev', name, 'address', mac, 'mtu', str(mtu), 'up']):
        subprocess.run(['ip', *args], check=True, capture_output=True)
    return fd


def ipv6_groups(device):
    """The IPv6 multicast groups (packed) the kernel joined on ``device``."""
    groups = set()
    try:
        with open('/proc/net/igmp6') as handle:
            for line in handle:
                fields = line.split()
                if len(fields) > 2 and fields[1] == device:
                    groups.add(bytes.fromhex(fields[2]))
    except OSError:
        pass
    return groups


class SixOverFour:
    def __init__(self, config):
        self.local = ipaddress.IPv4Address(config['local']).packed
        self.own = link_address(config['local'])
        self.device = config.get('device', DEVICE)
        self.tap = open_tap(self.device, ':'.join(f'{b:02x}' for b in self.own), config.get('mtu', TUNNEL_MTU))
        self.rx = socket.socket(socket.AF_INET, socket.SOCK_RAW, PROTO_IPV6_IN_IPV4)
        self.rx.setblocking(False)
        self.tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)   # our own NS must not come back
        self.tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, self.local)
        self.joiner = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.joined = set()
        self.ident = int.from_bytes(os.urandom(2), 'big')
        reasons = ('malformed', 'no_mapping', 'own')
        self.counters = {
            'decap': {'received': 0, 'bytes': 0, 'delivered': 0, 'write_errors': 0,
                      **{f'drop_{reason}': 0 for reason in reasons}},
            'encap': {'received': 0, 'bytes': 0, 'sent': 0, 'send_errors': 0,
                      **{f'drop_{reason}': 0 for reason in reasons}},
            'groups': []}

    def refresh_groups(self):
        """Join the IPv4 group of every IPv6 group the kernel joined on the TAP device (and leave the others)."""
        wanted = {b'\xef\xc0' + group[14:16] for group in ipv6_groups(self.device)}
        for group in wanted - self.joined:
            self.joiner.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, group + self.local)
        for group in self.joined - wanted:
            self.joiner.setsockopt(socket.IPPROTO_IP, socket.IP_DROP_MEMBERSHIP, group + self.local)
        self.joined = wanted
        self.counters['groups'] = sorted(socket.inet_ntoa(group) for group in wanted)

    def from_tap(self):
        counters = self.counters['encap']
        while True:
            try:
                frame = os.read(self.tap, RECV_SIZE)
            except BlockingIOError:
                return
            counters['received'] += 1
            counters['bytes'] += len(frame)
            inner, target, reason = to_ipv4(frame)
            if reason:
                counters[f'drop_{reason}'] += 1
                continue
            ttl = MULTICAST_TTL if target[0] >= 224 else TUNNEL_TTL
            self.ident = (self.ident + 1) & 0xffff or 1
            header = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 0, self.ident, 0x4000, ttl, PROTO_IPV6_IN_IPV4, 0,
                                 self.local, target)
            try:
                self.tx.sendto(header + inner, (socket.inet_ntoa(target), 0))
                counters['sent'] += 1
            except OSError:
                counters['send_errors'] += 1

    def from_ipv4(self):
        counters = self.counters['decap']
        while True:
            try:
                datagram = self.rx.recv(RECV_SIZE)
            except BlockingIOError:
                return
            counters['received'] += 1
            counters['bytes'] += len(datagram)
            parts = split_datagram(datagram)
            if parts is None:
                counters['drop_malformed'] += 1
                continue
            outer_src, inner = parts
            if outer_src == self.local:
                counters['drop_own'] += 1
                continue
            frame, reason = to_frame(outer_src, inner, self.own)
            if reason:
                counters[f'drop_{reason}'] += 1
                continue
            try:
                os.write(self.tap, frame)
                counters['delivered'] += 1
            except OSError:
                counters['write_errors'] += 1


def run(config):
    die_with_parent(config.get('parent'))
    interface = SixOverFour(config)
    stats, signals = config.get('stats'), LoopSignals()
    print('ready', flush=True)
    handlers = {interface.tap: interface.from_tap, interface.rx.fileno(): interface.from_ipv4,
                signals.fd: signals.drain}
    refreshed, dirty = 0.0, True
    snapshot = lambda: {**interface.counters, 'pid': os.getpid(), 'kernel_socket_drops': 0}  # noqa: E731
    while not signals.stopping:
        now = time.monotonic()
        if now - refreshed > REFRESH_S:
            before = interface.joined
            interface.refresh_groups()
            refreshed, dirty = now, dirty or interface.joined != before
        try:
            ready, _, _ = select.select(list(handlers), (), (), 0.25)
        except InterruptedError:
            continue
        for fd in ready:
            handlers[fd]()
        if stats and dirty and not ready:   # counters on file within a quarter second of the last packet
            write_json(stats, snapshot())
        dirty = bool(ready) or (dirty and not stats)
    if stats:
        write_json(stats, snapshot())


def main(argv=None):
    return daemon_main(argv, 'testbed.transition.sixover4d', run, lambda config: f'6over4 {config.get("name", "")}',
                       errors=(OSError, subprocess.CalledProcessError, ValueError, TestbedError))


if __name__ == '__main__':
    sys.exit(main())
