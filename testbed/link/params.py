"""Link parameters: validation, documented semantics, and the tc/delay-line plan for each data-plane path.

Semantics (the same on both paths):

- ``bw``: rate of each direction separately (a full-duplex link), shaped by an HTB token bucket on the egress
  interface of each end. Goodput is lower than ``bw`` by the header overhead (TCP over Ethernet: 1448/1514).
- ``delay``: one-way propagation delay of each direction, so a link of delay *d* adds 2*d* to a round trip.
- ``serialize``: each frame also takes its transmission time (its bytes / ``bw``) on the wire, back to back with the
  frames before it, so a packet of L bytes arrives L/R + d after its first bit left: the lecture's packet delay.
  On by default for a link with ``bw`` and a delay (jitter, loss); ``serialize=True`` asks for it on a link with
  ``bw`` alone (it then needs netem or a delay line too), ``False`` turns it off. Without it the link is HTB's
  token bucket only: a frame leaves as soon as tokens allow and arrives at once, so a lone 1514-byte frame on a
  1 Mb/s link is not held for its 12 ms.
- ``jitter``: each packet's delay is drawn uniformly from [delay - jitter, delay + jitter] (netem's default
  distribution); packets may be reordered, as with netem. Must not exceed ``delay``.
- ``loss``: percentage of packets dropped in each direction independently (so a ping round trip loses
  1 - (1 - p)^2 of its probes).
- ``max_queue_size``: packets that may wait for transmission at each end's egress (default 1000, Linux's
  txqueuelen). Packets already "on the wire" (in flight for ``delay``) do not count against it.

Kernel path: HTB class with a netem leaf (what Mininet's TCLink builds), netem's ``rate`` serialising; netem's limit
is the queue plus an in-flight allowance. Userspace path: HTB with a pfifo leaf for the queue, then a delay line
process between the two ends for serialisation, delay, jitter and loss (see ``testbed.link.delayline``). Both HTB
buckets
(burst and cburst) hold the burst: tc's default ceiling bucket is one 1600-byte frame, and since ceil = rate it
binds, so a release timer that fires late forfeits tokens (seen: 17.3 instead of 19.1 Mb/s of TCP at 20 Mb/s under
an emulated CPU).
"""
import dataclasses
import math
from dataclasses import dataclass, asdict
from typing import List, Optional

from testbed.errors import TestbedError
from testbed.measure.theory import full_frame
from testbed.units import parse_percent, parse_rate, parse_time, format_rate, format_time

SHAPING_KEYS = ('bw', 'delay', 'jitter', 'loss', 'max_queue_size', 'burst', 'serialize')
DEFAULT_QUEUE = 1000
HTB_BURST_BYTES = 15000       # Mininet's TCLink burst: smooth up to 1 Gb/s
HTB_QUANTUM_BYTES = 65536     # one class only, so quantum does not shape; fixed to silence HTB's r2q warning
MAX_RATE_BPS = 10e9           # above this HTB on veth is not reliable
MAX_DELAY_S = 10.0
MIN_FRAME_BYTES = 64          # the in-flight allowance assumes frames this small
UNSHAPED_RATE_BPS = 1e9       # rate assumed for the in-flight allowance of an unshaped link
USERSPACE_MAX_RATE_BPS = 1e9  # the delay line carries ~940 Mb/s of TCP at most (2-vCPU VM)


@dataclass(frozen=True)
class LinkParams:
    """Validated shaping of one link; every direction gets the same values."""

    bw: Optional[float] = None   # bits/s, None = unshaped
    delay: float = 0.0           # seconds, one way
    jitter: float = 0.0          # seconds
    loss: float = 0.0            # percent, 0..100
    max_queue_size: int = DEFAULT_QUEUE
    burst: Optional[int] = None  # bytes the HTB bucket holds (default HTB_BURST_BYTES); 1514 = one frame
    serialize: Optional[bool] = None  # frames take size/bw on the wire; None = when bw and a delay are both set

    @classmethod
    def from_options(cls, options: dict, where: str = 'link') -> 'LinkParams':
        """Build from Mininet-style options (``bw=10, delay='5ms', loss=1``); reject anything unknown."""
        params = cls(**_parse_options(options, where))
        params.validate(where)
        return params

    def changed(self, options: dict, where: str = 'link') -> 'LinkParams':
        """These parameters with the given options changed and the others kept (validated as a whole)."""
        params = dataclasses.replace(self, **_parse_options(options, where))
        params.validate(where)
        return params

    def validate(self, where: str = 'link') -> None:
        """Raise TestbedError for values no data-plane path can honour."""
        if self.bw is not None and not 0 < self.bw <= MAX_RATE_BPS:
            raise TestbedError(f'{where}: bandwidth {self.bw / 1e6:g} Mb/s '
                               f'must be above 0 and at most {format_rate(MAX_RATE_BPS)}')
        if self.bw is not None and self.bw < 8 * MIN_FRAME_BYTES:
            raise TestbedError(f'{where}: bandwidth {self.bw:g} b/s is too small to carry a frame per second')
        if not 0 <= self.delay <= MAX_DELAY_S:
            raise TestbedError(f'{where}: delay {self.delay * 1e3:g} ms must be between 0 and '
                               f'{MAX_DELAY_S * 1e3:g} ms')
        if self.jitter < 0:
            raise TestbedError(f'{where}: jitter {self.jitter * 1e3:g} ms must not be negative')
        if self.jitter > self.delay:
            raise TestbedError(f'{where}: jitter {format_time(self.jitter)} exceeds delay '
                               f'{format_time(self.delay)} (a packet cannot arrive before it is sent)')
        if not 0 <= self.loss <= 100:
            raise TestbedError(f'{where}: loss {self.loss:g}% must be between 0 and 100%')
        if self.burst is not None and (self.bw is None or not full_frame() <= self.burst <= 10_000_000):
            raise TestbedError(f'{where}: burst {self.burst} B needs a bandwidth (bw) and must be '
                               f'{full_frame()}..10000000 bytes (at least one full frame)')
        if self.serialize and self.bw is None:
            raise TestbedError(f'{where}: serialize needs a bandwidth (bw): a frame\'s transmission time is its '
                               'size / bw')
        if not 1 <= self.max_queue_size <= 1_000_000:
            raise TestbedError(f'{where}: max_queue_size {self.max_queue_size} must be 1..1000000 packets')

    @property
    def _serialized_by_default(self) -> bool:
        """A link that already needs netem or a delay line (delay, jitter or loss) serialises unless told not to."""
        return self.delay > 0 or self.jitter > 0 or self.loss > 0

    @property
    def serialized(self) -> bool:
        """True when each frame takes its transmission time on the wire (see ``serialize``)."""
        if not self.bw:
            return False
        return self._serialized_by_default if self.serialize is None else self.serialize

    @property
    def needs_delay(self) -> bool:
        """True when the link needs netem or a delay line (delay, jitter, loss or serialisation)."""
        return self._serialized_by_default or self.serialized

    @property
    def inflight_limit(self) -> int:
        """Packets that may be in flight in one direction: rate x (delay + jitter) in minimum-size frames."""
        rate = self.bw or UNSHAPED_RATE_BPS
        return max(1000, math.ceil(rate * (self.delay + self.jitter) / (8 * MIN_FRAME_BYTES)))

    def describe(self) -> str:
        """Short human form: ``10 Mb/s, 5 ms, loss 1%``."""
        parts = [format_rate(self.bw) if self.bw else 'unshaped']
        if self.delay:
            parts.append(format_time(self.delay) + (f' ± {format_time(self.jitter)}' if self.jitter else ''))
        if self.loss:
            parts.append(f'loss {self.loss:g}%')
        if self.max_queue_size != DEFAULT_QUEUE:
            parts.append(f'queue {self.max_queue_size}')
        if self.burst:
            parts.append(f'burst {self.burst} B')
        if self.bw and self.serialize is not None and self.serialize != self._serialized_by_default:
            parts.append('serialized' if self.serialize else 'not serialized')
        return ', '.join(parts)

    def as_dict(self) -> dict:
        return asdict(self)


def _parse_options(options, where):
    """The typed values of Mininet-style link options; unknown keys and malformed values are errors."""
    unknown = sorted(set(options) - set(SHAPING_KEYS))
    if unknown:
        raise TestbedError(f'{where}: unknown link parameter {unknown[0]!r} (known: {", ".join(SHAPING_KEYS)})')
    values = {}
    if options.get('bw') is not None:
        values['bw'] = parse_rate(options['bw'], f'{where}: bandwidth')
    for key in ('delay', 'jitter'):
        if options.get(key) is not None:
            values[key] = parse_time(options[key], f'{where}: {key}')
    if options.get('loss') is not None:
        values['loss'] = parse_percent(options['loss'], f'{where}: loss')
    queue = options.get('max_queue_size')
    if queue is not None:
        if isinstance(queue, str) and queue.strip().isdigit():
            queue = int(queue)
        if isinstance(queue, bool) or not isinstance(queue, (int, float)) or queue != int(queue):
            raise TestbedError(f'{where}: max_queue_size {queue!r} is not a whole number of packets')
        values['max_queue_size'] = int(queue)
    burst = options.get('burst')
    if burst is not None:
        if isinstance(burst, str) and burst.strip().isdigit():
            burst = int(burst)
        if isinstance(burst, bool) or not isinstance(burst, int):
            raise TestbedError(f'{where}: burst {burst!r} is not a whole number of bytes')
        values['burst'] = burst
    serialize = options.get('serialize')
    if serialize is not None:
        if isinstance(serialize, str) and serialize.strip().lower() in ('true', 'false', 'yes', 'no', '1', '0'):
            serialize = serialize.strip().lower() in ('true', 'yes', '1')
        if not isinstance(serialize, bool):
            raise TestbedError(f'{where}: serialize {serialize!r} must be true or false')
        values['serialize'] = serialize
    return values


def check_path(params: LinkParams, delay_path: str, where: str = 'link') -> None:
    """Raise TestbedError when the chosen delay path cannot honour these parameters."""
    if delay_path == 'userspace' and params.needs_delay and params.bw and params.bw > USERSPACE_MAX_RATE_BPS:
        raise TestbedError(f'{where}: bandwidth {format_rate(params.bw)} with delay/loss exceeds the userspace '
                           f'delay line ceiling ({format_rate(USERSPACE_MAX_RATE_BPS)}); use a kernel with sch_netem')


def tc_commands(intf: str, params: LinkParams, delay_path: str) -> List[str]:
    """The tc commands that shape the egress of ``intf`` (one end of a link) on the given path.

    Returns an empty list for a link that needs no qdisc. Kernel path: HTB + netem leaf, as Mininet's TCLink.
    Userspace path: HTB + pfifo leaf; delay, jitter and loss are left to the delay line.
    """
    cmds, parent = [], 'root'
    if params.bw:
        cmds.append(f'tc qdisc add dev {intf} root handle 5: htb default 1')
        cmds.append(f'tc class add dev {intf} parent 5: classid 5:1 htb rate {params.bw:.0f}bit '
                    f'{_htb_bucket(params)} quantum {HTB_QUANTUM_BYTES}')
        parent = 'parent 5:1'
    if delay_path == 'kernel' and params.needs_delay:
        netem = f'tc qdisc add dev {intf} {parent} handle 10: netem limit ' \
                f'{params.max_queue_size + params.inflight_limit}'
        if params.delay or params.jitter:
            netem += f' delay {params.delay * 1e6:.0f}us'
            if params.jitter:
                netem += f' {params.jitter * 1e6:.0f}us'
        if params.loss:
            netem += f' loss {params.loss:.6g}%'
        if params.serialized:
            netem += f' rate {params.bw:.0f}bit'
        cmds.append(netem)
    elif params.bw or params.max_queue_size != DEFAULT_QUEUE:
        cmds.append(f'tc qdisc add dev {intf} {parent} handle 10: pfifo limit {params.max_queue_size}')
    return cmds


def _htb_bucket(params):
    """Both HTB buckets hold the burst (see the module docstring: tc's default cburst forfeits tokens)."""
    burst = params.burst or HTB_BURST_BYTES
    return f'burst {burst}b cburst {burst}b'


def rate_change_command(intf: str, params: LinkParams, bw: float) -> str:
    """The tc command that changes a shaped link end's rate to ``bw`` bits/s in place (queue kept)."""
    if not params.bw:
        raise TestbedError(f'{intf}: the link has no bandwidth set, so there is no rate to change')
    if not 0 < bw <= MAX_RATE_BPS:
        raise TestbedError(f'{intf}: rate {bw!r} must be above 0 and at most {format_rate(MAX_RATE_BPS)}')
    return (f'tc class change dev {intf} parent 5: classid 5:1 htb rate {bw:.0f}bit {_htb_bucket(params)} '
            f'quantum {HTB_QUANTUM_BYTES}')


def delay_line_direction(params: LinkParams, seed: int) -> dict:
    """What the delay line does to one direction of a link (JSON-serialisable); ``rate`` 0 = no serialisation."""
    return {'delay': params.delay, 'jitter': params.jitter, 'loss': params.loss / 100.0,
            'limit': params.inflight_limit, 'seed': seed, 'rate': params.bw if params.serialized else 0.0}


def line_spec(key: str, ends: tuple, a_to_b: LinkParams, b_to_a: LinkParams, seeds: tuple) -> dict:
    """What a delay-line process needs for one link: its key, its two ends in the delay namespace (``a`` faces the
    link's first node) and each direction's parameters with its own seed."""
    return {'key': key, 'a': ends[0], 'b': ends[1], 'a_to_b': delay_line_direction(a_to_b, seeds[0]),
            'b_to_a': delay_line_direction(b_to_a, seeds[1])}


def direction_seeds(seed: int, index: int) -> tuple:
    """The random seeds of link ``index``'s two directions, from the network's ``seed``."""
    first = seed * 1000 + index
    return first, first + 500


def line_groups(count: int, cpus: int) -> list:
    """Which delay-line process serves each of ``count`` links: one process per CPU (fewer for fewer links), the
    links dealt out in turn so each process gets its share of any stretch of the topology. A list of index lists."""
    processes = max(1, min(count, cpus))
    return [list(range(first, count, processes)) for first in range(processes)] if count else []
