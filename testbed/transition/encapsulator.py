"""The userspace tunnel encapsulator: the fallback for the kernel's sit device, one program for every mode.

One process per tunnel endpoint, run inside that node's network namespace. It owns a TUN device (named like the
kernel's device would be, e.g. ``tun6to4``) that the node's IPv6 routes point at, and a raw IPv4 socket for
protocol 41. The mode (``testbed.transition.tunnels``: manual, v4compat, 6to4, 6rd, isatap) is a pure mapping that
decides both directions:

- IPv6 packets the kernel routes into the TUN device are wrapped in an IPv4 header toward the mode's target, from
  the node's tunnel IPv4 address, TTL 64, DF set: the same outer header as the kernel's sit device writes. The
  header is written here and sent on an IPPROTO_RAW socket, which never receives (measured: ~25 % more goodput
  than letting a protocol-41 socket build it).
- Protocol-41 datagrams arriving for the node are checked by the mode (RFC 3964 for 6to4, RFC 4213, 5969, 5214
  for the others) and the inner IPv6 packet is written to the TUN device, where the kernel forwards it like a
  packet from sit.

Everything that arrives is counted once: delivered, or dropped with its reason; counters go to a JSON file
(``stats`` in the config) within a quarter second of the last packet and on exit, with the kernel's own drop count
for the raw socket. The kernel keeps doing what it does on the sit path: hop-limit decrement, Packet Too Big for
packets larger than the tunnel MTU, neighbour discovery on the LAN.

Run as ``python -m testbed.transition.encapsulator CONFIG_JSON``; prints ``ready`` once the TUN device is up.
"""
import fcntl
import os
import select
import socket
import struct
import subprocess
import sys
import time

from testbed.system.daemon import LoopSignals, die_with_parent, write_json
from testbed.system.daemon import main as daemon_main
from testbed.sixtofour.addressing import PROTO_IPV6_IN_IPV4, TUNNEL_MTU, TUNNEL_TTL
from testbed.sixtofour.coalesce import VNET_HEADER_LEN, coalesce
from testbed.transition.tunnels import DROP_REASONS, TunnelConfigError, mode_from_config

TUNSETIFF = 0x400454ca
IFF_TUN, IFF_NO_PI, IFF_VNET_HDR = 0x0001, 0x1000, 0x4000
SO_RCVBUFFORCE = 33
RECV_SIZE = 65535
BATCH = 256
STATS_INTERVAL = 1.0
IDLE = 0.25


def open_tun(name, mtu, txqueuelen):
    """Create the TUN device in this namespace, set its MTU and queue length, bring it up; return its fd."""
    fd = os.open('/dev/net/tun', os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', name.encode(), IFF_TUN | IFF_NO_PI | IFF_VNET_HDR))
    subprocess.run(['ip', 'link', 'set', 'dev', name, 'addrgenmode', 'none'], check=True, capture_output=True)
    subprocess.run(['ip', 'link', 'set', 'dev', name, 'mtu', str(mtu), 'txqueuelen', str(txqueuelen),
                    'multicast', 'off', 'up'], check=True, capture_output=True)  # like sit: no MLD, no RS
    return fd


def open_raw(buffer_bytes):
    """The protocol-41 raw socket that receives every datagram for this node (sending uses IPPROTO_RAW)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, PROTO_IPV6_IN_IPV4)
    sock.setblocking(False)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, buffer_bytes)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer_bytes)
    return sock


def kernel_drops(sock):
    """Datagrams the kernel dropped before this process read them (socket buffer full), from /proc/net/raw."""
    inode = str(os.fstat(sock.fileno()).st_ino)
    try:
        with open('/proc/net/raw') as handle:
            for line in handle.readlines()[1:]:
                fields = line.split()
                if len(fields) > 12 and fields[9] == inode:
                    return int(fields[-1])
    except OSError:
        pass
    return 0


class Encapsulator:
    """The two directions of one tunnel interface and their counters."""

    def __init__(self, config):
        self.mode = mode_from_config(config)
        self.local = self.mode.local
        self.tun = open_tun(config.get('device', 'tun6to4'), config.get('mtu', TUNNEL_MTU),
                           config.get('txqueuelen', 5000))
        self.sock = open_raw(config.get('socket_buffer', 8 << 20))
        self.tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.headers = {}  # packed IPv4 destination -> (header before the id, header after it, sendto address)
        self.ident = int.from_bytes(os.urandom(2), 'big')
        self.counters = {
            'decap': {'received': 0, 'bytes': 0, 'delivered': 0, 'merged': 0, 'write_errors': 0,
                      **{f'drop_{reason}': 0 for reason in DROP_REASONS}},
            'encap': {'received': 0, 'bytes': 0, 'sent': 0, 'send_errors': 0,
                      **{f'drop_{reason}': 0 for reason in DROP_REASONS}},
        }

    def from_ipv4(self):
        """Read protocol-41 datagrams, check them, deliver their IPv6 packets to the TUN device: a batch's
        back-to-back TCP segments of one flow as one GSO packet (``testbed.sixtofour.coalesce``), as GRO does behind
        sit."""
        counters = self.counters['decap']
        recv, accept = self.sock.recv, self.mode.accept
        accepted = []
        received = size = 0
        try:
            for _ in range(BATCH):
                try:
                    datagram = recv(RECV_SIZE)
                except BlockingIOError:
                    break
                received += 1
                size += len(datagram)
                inner, reason = accept(datagram)
                if reason:
                    counters[f'drop_{reason}'] += 1
                    continue
                accepted.append(inner)
        finally:  # counted once per batch: the per-packet path stays short
            counters['received'] += received
            counters['bytes'] += size
            self._deliver(accepted)

    def _deliver(self, packets):
        """Write accepted IPv6 packets to the TUN device; every packet counts as delivered or as a write error,
        and ``merged`` counts those that went in a GSO packet with others."""
        counters, write, tun = self.counters['decap'], os.write, self.tun
        delivered = merged = 0
        for frame, count in coalesce(packets):
            try:
                write(tun, frame)
                delivered += count
                if count > 1:
                    merged += count
            except OSError:
                counters['write_errors'] += count
        counters['delivered'] += delivered
        counters['merged'] += merged

    def from_tun(self):
        """Read IPv6 packets the kernel routed into the tunnel, wrap them in IPv4, send them."""
        counters = self.counters['encap']
        read, tun, target_of = os.read, self.tun, self.mode.target
        send = self._send
        received = size = sent = 0
        try:
            for _ in range(BATCH):
                try:
                    inner = read(tun, RECV_SIZE)[VNET_HEADER_LEN:]  # no offloads announced: the header is empty
                except BlockingIOError:
                    return
                received += 1
                size += len(inner)
                target, reason = target_of(inner)
                if reason:
                    counters[f'drop_{reason}'] += 1
                    continue
                try:
                    send(inner, target)
                    sent += 1
                except OSError:
                    counters['send_errors'] += 1  # unreachable, or the IPv4 side is down
        finally:
            counters['received'] += received
            counters['bytes'] += size
            counters['sent'] += sent

    def _send(self, inner, target):
        """Send with our own IPv4 header (IPPROTO_RAW implies IP_HDRINCL; the kernel fills in the total length and
        the checksum): the source is the node's tunnel address (the anycast one on a 6to4 relay), the identification a
        running counter as sit's is, and this socket never receives, so incoming datagrams are not copied to it."""
        parts = self.headers.get(target)
        if parts is None:
            if len(self.headers) > 4096:
                self.headers.clear()
            header = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 0, 0, 0x4000, TUNNEL_TTL, PROTO_IPV6_IN_IPV4, 0,
                                 self.local, target)
            parts = self.headers[target] = (header[:4], header[6:], (socket.inet_ntoa(target), 0))
        self.ident = (self.ident + 1) & 0xffff or 1
        self.tx.sendto(parts[0] + self.ident.to_bytes(2, 'big') + parts[1] + inner, parts[2])

    def snapshot(self):
        return {**self.counters, 'kernel_socket_drops': kernel_drops(self.sock), 'pid': os.getpid()}


def run(config):
    die_with_parent(config.get('parent'))
    encapsulator = Encapsulator(config)
    stats = config.get('stats')
    signals = LoopSignals()
    if stats:
        write_json(stats, encapsulator.snapshot())
    print('ready', flush=True)
    readable = [encapsulator.sock.fileno(), encapsulator.tun, signals.fd]
    handlers = {encapsulator.sock.fileno(): encapsulator.from_ipv4, encapsulator.tun: encapsulator.from_tun,
                signals.fd: signals.drain}
    written, dirty = time.monotonic(), False
    while not signals.stopping:
        try:
            ready, _, _ = select.select(readable, (), (), IDLE)
        except InterruptedError:
            continue
        for fd in ready:
            try:
                handlers[fd]()
            except Exception as exc:  # a bug must not take the tunnel down: count it, say it once
                encapsulator.counters['internal_errors'] = encapsulator.counters.get('internal_errors', 0) + 1
                if encapsulator.counters['internal_errors'] == 1:
                    print(f'tunnel encapsulator: {type(exc).__name__}: {exc}', file=sys.stderr, flush=True)
        dirty = dirty or bool(ready)
        now = time.monotonic()
        if stats and dirty and (not ready or now - written > STATS_INTERVAL):
            write_json(stats, encapsulator.snapshot())
            written, dirty = now, False
    if stats:
        write_json(stats, encapsulator.snapshot())
    return encapsulator.counters


def main(argv=None):
    return daemon_main(argv, 'testbed.transition.encapsulator', run,
                       lambda config: f'{config.get("mode", "6to4")} encapsulator {config.get("name", "")}',
                       errors=(OSError, subprocess.CalledProcessError, ValueError, TunnelConfigError))


if __name__ == '__main__':
    sys.exit(main())
