"""Userspace delay line: the fallback for netem on kernels without sch_netem.

One process per link, running in the testbed's delay namespace between the two veth ends that stand in for the
link's "wire" (``end_a`` faces the link's first node, ``end_b`` its second). It reads frames from each end with an
AF_PACKET socket and writes them to the other end after the link's one-way delay, dropping a fraction ``loss``.
With a ``rate`` it is also the wire's serialiser, as netem's ``rate``: a frame finishes transmission its bytes / rate
after the previous one finished or after it arrived, whichever is later, and then propagates for the delay.

Design (measured ceilings: the README's "Measured here"): one single-threaded select loop (two sockets; select has
microsecond timeouts), no threads for timed forwarding; a FIFO
per direction when the delay is fixed (arrival order equals departure order) and a heap only with jitter (netem
reorders too); ``PACKET_VNET_HDR`` so that GSO super-frames and partial checksums pass whole, which keeps
checksum offload on and lets one Python process carry ~1 Gb/s. Rate shaping is not done here: HTB on the nodes'
egress interfaces does it, as on the kernel path.

What a userspace element costs in time is compensated where it can be measured, so that the link adds its delay and
no more (a wake-up from idle takes 0.1-0.3 ms on a virtual CPU, and longer after longer sleeps):
- a frame's arrival time is the kernel's receive timestamp (SIOCGSTAMPNS) of the first frame read after a wake-up,
  not the moment this process got to read it;
- frames are released early by how late this process's timers fire, learnt as it runs for each length of wait
  (``Lateness``; ``early_us`` is the starting guess).
What it cannot see stays: a userspace switch behind it that was idle wakes late too (seen here: 0.1-0.3 ms per
traversal, the README's "Limits seen").

Run as ``python -m testbed.link.delayline CONFIG_JSON``; it prints ``ready`` when its sockets are bound, rewrites its
counters (and the frames in flight, and when: ``at``, the system's monotonic clock) to the ``stats`` file of the
config twice a second while it runs (the web view reads them), and on SIGTERM stops at once and writes them a last
time. On SIGUSR1 it applies the new parameters of one or both directions from ``<stats>.retime`` and deletes that
file (a link reshaped at run time).
"""
import bisect
import collections
import fcntl
import heapq
import json
import os
import random
import select
import socket
import struct
import sys
import time

from testbed.system.daemon import LoopSignals, die_with_parent, write_json
from testbed.system.daemon import main as daemon_main

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_VNET_HDR = 15
PACKET_IGNORE_OUTGOING = 23
PACKET_OUTGOING = 4
VNET_HDR_LEN = 10
MIN_FRAME = VNET_HDR_LEN + 14          # a virtio header and an Ethernet header
RECV_SIZE = VNET_HDR_LEN + 65535 + 64  # largest GSO super-frame
SOCKET_BUFFER = 8 << 20
BATCH = 256                            # frames read per readable event, so one direction cannot starve the other
SIOCGSTAMPNS = 0x8907                  # the kernel's receive time of the last frame read (CLOCK_REALTIME)
WAIT_BOUNDS = (0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016)  # seconds: one lateness estimate per range
IDLE_WAIT = 0.0005                     # a wait at least this long counts as a wake-up from idle
MAX_COMPENSATION = 0.002               # no estimate may move a release by more than this (seconds)
LIVE_STATS_S = 0.5                     # how often the counters are rewritten while the line runs (twice per
                                       # sample of the web view: each of its samples sees a fresh file)


class Lateness:
    """Running estimates (exponentially weighted, 1/8 per sample) of how late a wait of each length ends here."""

    def __init__(self, initial):
        self.estimates = [initial] * (len(WAIT_BOUNDS) + 1)

    def expected(self, wait):
        return self.estimates[bisect.bisect(WAIT_BOUNDS, wait)]

    def observe(self, wait, late):
        index = bisect.bisect(WAIT_BOUNDS, wait)
        estimate = self.estimates[index]
        late = min(max(late, 0.0), MAX_COMPENSATION)  # one descheduled wake must not swing the estimate
        self.estimates[index] = estimate + (late - estimate) / 8


def kernel_arrival(sock, now):
    """The monotonic time at which the kernel received the last frame read from ``sock`` (``now`` if unknown)."""
    try:
        seconds, nanoseconds = struct.unpack('qq', fcntl.ioctl(sock.fileno(), SIOCGSTAMPNS, bytes(16)))
    except OSError:
        return now
    age = time.time() - (seconds + nanoseconds * 1e-9)
    return now - age if 0.0 <= age <= MAX_COMPENSATION else now


class Direction:
    """Frames travelling one way along the link: delay, jitter, loss, in-flight limit and counters."""

    def __init__(self, name, out_sock, delay, jitter=0.0, loss=0.0, limit=100000, seed=0, rate=0.0):
        self.name = name
        self.out_sock = out_sock
        self.seconds_per_byte = 8.0 / rate if rate else 0.0
        self.wire_free = 0.0  # when the last frame finished transmission (serialising links)
        self.delay = delay
        self.jitter = jitter
        self.loss = loss
        self.limit = limit
        self.rng = random.Random(seed)
        self.queue = [] if jitter else collections.deque()
        self.sequence = 0  # keeps the heap stable for equal due times
        self.counters = {'received': 0, 'delivered': 0, 'lost': 0, 'overflow': 0, 'runt': 0,
                         'send_errors': 0, 'max_in_flight': 0}

    def retime(self, delay, jitter=0.0, loss=0.0, limit=100000, seed=0, rate=0.0):
        """New delay, jitter, loss, in-flight limit and rate; frames in flight keep their due times."""
        del seed  # the random sequence goes on
        if bool(jitter) != bool(self.jitter):  # a heap with jitter, a FIFO without: move the frames across
            frames = sorted(self.queue)
            self.queue = frames if jitter else collections.deque(frames)
        self.delay, self.jitter, self.loss, self.limit = delay, jitter, loss, limit
        self.seconds_per_byte = 8.0 / rate if rate else 0.0

    def arrive(self, frame, now):
        counters = self.counters
        counters['received'] += 1
        if len(frame) < MIN_FRAME:
            counters['runt'] += 1
            return
        if self.loss and self.rng.random() < self.loss:
            counters['lost'] += 1
            return
        queue = self.queue
        if len(queue) >= self.limit:
            counters['overflow'] += 1
            return
        if self.seconds_per_byte:  # the frame as the shaper counts it: Ethernet header and payload
            self.wire_free = max(now, self.wire_free) + (len(frame) - VNET_HDR_LEN) * self.seconds_per_byte
            now = self.wire_free
        if self.jitter:
            due = now + max(0.0, self.delay + self.rng.uniform(-self.jitter, self.jitter))
            self.sequence += 1
            heapq.heappush(queue, (due, self.sequence, frame))
        else:
            queue.append((now + self.delay, 0, frame))
        if len(queue) > counters['max_in_flight']:
            counters['max_in_flight'] = len(queue)

    def next_due(self):
        return self.queue[0][0] if self.queue else None

    def release(self, horizon):
        """Send every frame due by ``horizon``."""
        queue, send = self.queue, self.out_sock.send
        pop = (lambda: heapq.heappop(queue)) if self.jitter else queue.popleft
        delivered = errors = 0
        while queue and queue[0][0] <= horizon:
            frame = pop()[2]
            try:
                send(frame)
                delivered += 1
            except OSError:
                errors += 1
        self.counters['delivered'] += delivered
        self.counters['send_errors'] += errors


def open_end(ifname):
    """An AF_PACKET socket on one veth end, with virtio headers, seeing only frames arriving there."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    try:
        sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    except OSError:
        pass  # old kernel: outgoing frames are filtered by sll_pkttype in the loop instead
    for option, force in ((socket.SO_RCVBUF, 33), (socket.SO_SNDBUF, 32)):  # SO_RCVBUFFORCE, SO_SNDBUFFORCE
        try:
            sock.setsockopt(socket.SOL_SOCKET, force, SOCKET_BUFFER)
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER)
    sock.bind((ifname, ETH_P_ALL))
    ifindex = socket.if_nametoindex(ifname)
    mreq = ifindex.to_bytes(4, sys.byteorder) + PACKET_MR_PROMISC.to_bytes(2, sys.byteorder) + bytes(10)
    sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
    sock.setblocking(False)
    return sock


def _drain(sock, direction, now, stamp_first):
    """Read up to BATCH frames from ``sock`` into ``direction``; with ``stamp_first``, the first frame arrives at
    the kernel's receive time. Returns (still open, how long the first frame waited to be read, or None)."""
    recvfrom = sock.recvfrom
    waited = None
    for _ in range(BATCH):
        try:
            frame, address = recvfrom(RECV_SIZE)
        except BlockingIOError:
            return True, waited
        except OSError:  # the interface went away: the link is being deleted
            return False, waited
        if address[2] == PACKET_OUTGOING:
            continue
        if stamp_first:
            stamp_first = False
            arrived = kernel_arrival(sock, now)
            waited = now - arrived
            direction.arrive(frame, arrived)
        else:
            direction.arrive(frame, now)
    return True, waited


def run(config):
    """Forward frames between the two ends until SIGTERM; return the counters."""
    die_with_parent(config.get('parent'))
    sock_a, sock_b = open_end(config['a']), open_end(config['b'])
    early = config.get('early_us', 100) * 1e-6
    timers = Lateness(early)
    wake_up = early  # how long a frame waits, after an idle spell, before this process reads it (reported)
    forward = Direction('a_to_b', sock_b, **config['a_to_b'])
    backward = Direction('b_to_a', sock_a, **config['b_to_a'])
    directions = (forward, backward)
    inbound = {sock_a.fileno(): (sock_a, forward), sock_b.fileno(): (sock_b, backward)}
    signals = LoopSignals()
    readable = list(inbound) + [signals.fd]
    for sock in (sock_a, sock_b):
        kernel_arrival(sock, 0.0)  # the first SIOCGSTAMPNS turns receive timestamps on
    print('ready', flush=True)
    clock = time.monotonic
    next_report = clock() + LIVE_STATS_S
    while not signals.stopping:
        if signals.reload:
            signals.reload = False
            retime(config, {'a_to_b': forward, 'b_to_a': backward})
        started = clock()
        due = [direction.next_due() for direction in directions if direction.queue]
        if due:
            wait = max(0.0, min(due) - started)
            wait = max(0.0, wait - timers.expected(wait))
        else:
            wait = max(0.0, next_report - started)
        try:  # select(), not epoll: epoll_wait rounds its timeout up to whole milliseconds
            ready, _, _ = select.select(readable, (), (), wait)
        except InterruptedError:
            continue
        now = clock()
        if not ready and due:
            timers.observe(wait, now - started - wait)
        idle = now - started >= IDLE_WAIT
        for fd in ready:
            if fd == signals.fd:
                signals.drain()
                continue
            sock, direction = inbound[fd]
            still_open, waited = _drain(sock, direction, now, idle)
            if not still_open:
                signals.stopping = True
            if waited is not None:
                wake_up += (min(max(waited, 0.0), MAX_COMPENSATION) - wake_up) / 8
        horizon = clock() + timers.expected(0.0)  # due before the next, shortest, wait could end
        forward.release(horizon)
        backward.release(horizon)
        if now >= next_report and config.get('stats'):
            next_report = now + LIVE_STATS_S
            write_json(config['stats'], report(config, directions, timers, wake_up))
    return report(config, directions, timers, wake_up)


def report(config, directions, timers, wake_up):
    """The counters of both directions, with the frames in flight now, and the timing estimates learnt; ``at``:
    when (CLOCK_MONOTONIC, the same in every process of the machine)."""
    return {'link': config.get('link', ''), 'at': time.monotonic(),
            **{direction.name: {**direction.counters, 'in_flight': len(direction.queue)} for direction in directions},
            'timer_lateness_us': [round(late * 1e6, 1) for late in timers.estimates],
            'wake_up_us': round(wake_up * 1e6, 1)}


def retime(config, directions):
    """Apply the new parameters of the ``.retime`` request next to the stats file, then delete it (the testbed
    waits for that): ``{"a_to_b": {delay, jitter, loss, limit, seed, rate}}``, one direction or both."""
    request = f'{config.get("stats")}.retime'
    try:
        with open(request) as handle:
            changes = json.load(handle)
    except (OSError, ValueError):
        return
    for name, values in changes.items():
        if name in directions:
            directions[name].retime(**values)
    os.unlink(request)


def run_and_report(config):
    counters = run(config)
    if config.get('stats'):
        write_json(config['stats'], counters)


def main(argv=None):
    return daemon_main(argv, 'testbed.link.delayline', run_and_report,
                       lambda config: f'delay line {config.get("link", "")}')


if __name__ == '__main__':
    sys.exit(main())
